import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, setting, z } from '@understudy/config';
import { grpcSettings, kafkaSettings, s3Settings } from '@understudy/service';
import { contentKeysFileSetting } from '@understudy/tenancy';
import { onnxDtypes } from './drivers/onnx-backend.js';
import { parseLocation } from './drivers/model-files.js';

/** `/abs/path` or `s3://bucket/key`. */
const location = () =>
  z.string().transform((text, context) => {
    const parsed = parseLocation(text);
    if (parsed === undefined) {
      context.addIssue({ code: 'custom', message: 'must be an absolute path or s3://bucket/key' });
      return z.NEVER;
    }
    return parsed;
  });

export const backends = ['hashing', 'onnx', 'openai'] as const;

export const settings = {
  kafka: kafkaSettings,
  grpc: grpcSettings,
  /** For models and IDF tables given as s3:// locations. */
  s3: s3Settings,
  /** Keys that open encrypted call content; unset, encrypted calls are dead-lettered. */
  contentKeysFile: contentKeysFileSetting,
  embedding: {
    backend: setting('UNDERSTUDY_EMBEDDER_BACKEND', env.oneOf(backends).default('hashing')),
    cacheSize: setting('UNDERSTUDY_EMBEDDER_CACHE_SIZE', env.positiveInt().default(10_000)),
    maxBatchSize: setting('UNDERSTUDY_EMBEDDER_BATCH_SIZE', env.positiveInt().default(32)),
    /** Backend calls (batches) in flight at once. */
    concurrency: setting('UNDERSTUDY_EMBEDDER_BACKEND_CONCURRENCY', env.positiveInt().default(2)),
    maxInputChars: setting('UNDERSTUDY_EMBEDDER_MAX_INPUT_CHARS', env.positiveInt().default(4_000)),
    /** Partitions of understudy.calls.captured.v1 handled at once: what batches can gather. */
    partitions: setting('UNDERSTUDY_EMBEDDER_PARTITIONS', env.positiveInt().default(8)),
  },
  featurizer: {
    dimension: setting('UNDERSTUDY_EMBEDDER_DIMENSION', env.positiveInt().default(256)),
    seed: setting('UNDERSTUDY_EMBEDDER_SEED', z.coerce.number().int().min(0).default(1)),
    /** A frozen IDF table (`fit-idf`); without one, features are not IDF-weighted. */
    idf: setting('UNDERSTUDY_EMBEDDER_IDF', location().optional()),
  },
  onnx: {
    model: setting('UNDERSTUDY_EMBEDDER_ONNX_MODEL', location().optional()),
    modelName: setting('UNDERSTUDY_EMBEDDER_ONNX_MODEL_NAME', env.text().optional()),
    dtype: setting('UNDERSTUDY_EMBEDDER_ONNX_DTYPE', env.oneOf(onnxDtypes).default('fp32')),
    maxTokens: setting('UNDERSTUDY_EMBEDDER_ONNX_MAX_TOKENS', env.positiveInt().default(256)),
    /** Most tokens (padding included) in one run of the model; texts run sorted by length. */
    runTokens: setting('UNDERSTUDY_EMBEDDER_ONNX_RUN_TOKENS', env.positiveInt().default(512)),
    pooling: setting(
      'UNDERSTUDY_EMBEDDER_ONNX_POOLING',
      env.oneOf(['mean', 'cls']).default('mean'),
    ),
    threads: setting('UNDERSTUDY_EMBEDDER_ONNX_THREADS', env.positiveInt().optional()),
    /** Where models from the object store are copied to. */
    cacheDir: setting(
      'UNDERSTUDY_EMBEDDER_MODEL_CACHE_DIR',
      env.text().default(join(tmpdir(), 'understudy-embedder-models')),
    ),
  },
  openai: {
    url: setting('UNDERSTUDY_EMBEDDER_OPENAI_URL', env.url().optional()),
    model: setting('UNDERSTUDY_EMBEDDER_OPENAI_MODEL', env.text().optional()),
    apiKey: setting('UNDERSTUDY_EMBEDDER_OPENAI_API_KEY', env.text().optional(), { secret: true }),
    dimensions: setting('UNDERSTUDY_EMBEDDER_OPENAI_DIMENSIONS', env.positiveInt().optional()),
    timeoutMs: setting('UNDERSTUDY_EMBEDDER_OPENAI_TIMEOUT_MS', env.positiveInt().default(30_000)),
    attempts: setting('UNDERSTUDY_EMBEDDER_OPENAI_ATTEMPTS', env.positiveInt().default(4)),
    baseDelayMs: setting('UNDERSTUDY_EMBEDDER_OPENAI_BACKOFF_MS', env.positiveInt().default(250)),
    maxDelayMs: setting(
      'UNDERSTUDY_EMBEDDER_OPENAI_MAX_BACKOFF_MS',
      env.positiveInt().default(10_000),
    ),
  },
};
