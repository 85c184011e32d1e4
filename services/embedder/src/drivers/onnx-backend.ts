import { basename, dirname } from 'node:path';
import {
  AutoModel,
  AutoTokenizer,
  env,
  mean_pooling,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type Tensor,
} from '@huggingface/transformers';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { EmbeddingBackend } from './embedding-backend.js';

/** Which ONNX file of the folder runs: `onnx/model.onnx` (fp32), `model_quantized.onnx` (q8)… */
export const onnxDtypes = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4'] as const;
export type OnnxDtype = (typeof onnxDtypes)[number];

export interface OnnxBackendOptions {
  /**
   * A transformers.js model folder: `config.json`, the tokenizer files and
   * `onnx/model<suffix>.onnx` for the dtype. Nothing is ever downloaded.
   */
  readonly modelDir: string;
  /** Names the vector space, e.g. `all-MiniLM-L6-v2`. */
  readonly modelName: string;
  readonly dtype: OnnxDtype;
  /** Longer inputs are truncated, as sentence-transformers does (all-MiniLM-L6-v2: 256). */
  readonly maxTokens: number;
  /** How token vectors become one: their mean (sentence-transformers) or the first ([CLS]). */
  readonly pooling: 'mean' | 'cls';
  /** Most tokens in one run of the model, padding included (runs of one text may exceed it). */
  readonly runTokens: number;
  /** ONNX Runtime's intra-op threads; its default (all cores) when absent. */
  readonly threads?: number;
}

interface Loaded {
  readonly tokenizer: PreTrainedTokenizer;
  readonly model: PreTrainedModel;
}

/**
 * A sentence-embedding model in ONNX, run in process by transformers.js on onnxruntime-node's
 * CPU build: tokenize the batch (padded, truncated), run the encoder, pool, normalise.
 */
export class OnnxBackend implements EmbeddingBackend {
  readonly model: string;
  readonly backend: string;
  private loaded: Loaded | undefined;

  constructor(private readonly options: OnnxBackendOptions) {
    this.model = options.modelName;
    this.backend = `onnxruntime-node-${options.dtype}`;
  }

  async init(): Promise<void> {
    const { modelDir, dtype, threads } = this.options;
    // transformers.js resolves model ids below one folder, process-wide; remote loading is off.
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = dirname(modelDir);
    const id = basename(modelDir);
    try {
      const tokenizer = await AutoTokenizer.from_pretrained(id, { local_files_only: true });
      const model = await AutoModel.from_pretrained(id, {
        local_files_only: true,
        device: 'cpu',
        dtype,
        ...(threads !== undefined && { session_options: { intraOpNumThreads: threads } }),
      });
      this.loaded = { tokenizer, model };
    } catch (error) {
      throw new UnderstudyError(
        ErrorCode.FailedPrecondition,
        `cannot load the ONNX model in ${modelDir} (dtype ${dtype}): ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Texts are run in order of length, in runs of similar length whose padded size stays within
   * `runTokens`, as sentence-transformers does: padding a short text to a long one's length
   * costs as much as the long one.
   */
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (this.loaded === undefined) {
      throw new UnderstudyError(ErrorCode.FailedPrecondition, 'the ONNX model is not loaded');
    }
    const { tokenizer } = this.loaded;
    const lengths = texts.map((text) =>
      Math.min(this.options.maxTokens, tokenizer.encode(text).length),
    );
    const order = texts.map((_, i) => i).sort((a, b) => (lengths[a] ?? 0) - (lengths[b] ?? 0));
    const vectors = new Array<Float32Array>(texts.length);
    for (let start = 0; start < order.length;) {
      let end = start + 1;
      // Sorted ascending, so the run's padded size is its length times its last text's length.
      while (
        end < order.length &&
        (end - start + 1) * (lengths[order[end] ?? 0] ?? 0) <= this.options.runTokens
      ) {
        end += 1;
      }
      const run = order.slice(start, end);
      const embedded = await this.run(run.map((i) => texts[i] ?? ''));
      run.forEach((i, k) => {
        vectors[i] = embedded[k] ?? new Float32Array();
      });
      start = end;
    }
    return vectors;
  }

  private async run(texts: readonly string[]): Promise<Float32Array[]> {
    const { tokenizer, model } = this.loaded ?? {};
    if (tokenizer === undefined || model === undefined) return [];
    const inputs = tokenizer([...texts], {
      padding: true,
      truncation: true,
      max_length: this.options.maxTokens,
    }) as Record<string, Tensor>;
    const outputs = (await model(inputs)) as Record<string, Tensor | undefined>;
    const hidden = outputs['last_hidden_state'];
    const mask = inputs['attention_mask'];
    if (hidden === undefined || mask === undefined) {
      throw new UnderstudyError(
        ErrorCode.FailedPrecondition,
        `${this.model} has no last_hidden_state output: not a sentence encoder`,
      );
    }
    const pooled =
      this.options.pooling === 'mean' ? mean_pooling(hidden, mask) : hidden.slice(null, 0);
    const vectors = pooled.normalize(2, -1);
    const dimension = vectors.dims.at(-1) ?? 0;
    const data = vectors.data as Float32Array;
    return texts.map((_, row) => data.slice(row * dimension, (row + 1) * dimension));
  }

  async close(): Promise<void> {
    await this.loaded?.model.dispose();
    this.loaded = undefined;
  }
}
