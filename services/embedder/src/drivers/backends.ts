import type { ConfigOf } from '@understudy/config';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { settings } from '../config.js';
import { IdfTable } from '../domain/idf.js';
import type { EmbeddingBackend } from './embedding-backend.js';
import { HashingBackend } from './hashing-backend.js';
import { localFolder, locationName, readLocation, type StoreOpener } from './model-files.js';
import { OnnxBackend } from './onnx-backend.js';
import { OpenAiBackend } from './openai-backend.js';

type EmbedderConfig = ConfigOf<typeof settings>;

/** The boot error for a setting that the chosen backend needs. */
function required(variable: string, backend: string): UnderstudyError {
  return new UnderstudyError(
    ErrorCode.InvalidArgument,
    `invalid configuration:\n  ${variable} (missing): required with UNDERSTUDY_EMBEDDER_BACKEND=${backend}`,
    { details: { variables: [variable] } },
  );
}

/**
 * The backend the configuration chooses, with its model or table fetched (from the object store
 * where the location says so) and loaded: ready to embed.
 */
export async function openBackend(
  config: EmbedderConfig,
  open: StoreOpener,
): Promise<EmbeddingBackend> {
  const backend = await createBackend(config, open);
  await backend.init();
  return backend;
}

async function createBackend(config: EmbedderConfig, open: StoreOpener): Promise<EmbeddingBackend> {
  const { embedding, featurizer, onnx, openai } = config;
  switch (embedding.backend) {
    case 'hashing': {
      const idf =
        featurizer.idf === undefined
          ? undefined
          : IdfTable.decode(await readLocation(featurizer.idf, open));
      return new HashingBackend({
        dimension: featurizer.dimension,
        seed: featurizer.seed,
        ...(idf && { idf }),
      });
    }
    case 'onnx': {
      if (onnx.model === undefined) throw required('UNDERSTUDY_EMBEDDER_ONNX_MODEL', 'onnx');
      return new OnnxBackend({
        modelDir: await localFolder(onnx.model, open, onnx.cacheDir),
        dtype: onnx.dtype,
        maxTokens: onnx.maxTokens,
        runTokens: onnx.runTokens,
        pooling: onnx.pooling,
        modelName: onnx.modelName ?? locationName(onnx.model),
        ...(onnx.threads !== undefined && { threads: onnx.threads }),
      });
    }
    case 'openai': {
      if (openai.url === undefined) throw required('UNDERSTUDY_EMBEDDER_OPENAI_URL', 'openai');
      if (openai.model === undefined) throw required('UNDERSTUDY_EMBEDDER_OPENAI_MODEL', 'openai');
      return new OpenAiBackend({
        baseUrl: openai.url,
        model: openai.model,
        maxInputs: embedding.maxBatchSize,
        concurrency: embedding.concurrency,
        timeoutMs: openai.timeoutMs,
        attempts: openai.attempts,
        baseDelayMs: openai.baseDelayMs,
        maxDelayMs: openai.maxDelayMs,
        ...(openai.apiKey !== undefined && { apiKey: openai.apiKey }),
        ...(openai.dimensions !== undefined && { dimensions: openai.dimensions }),
      });
    }
  }
}
