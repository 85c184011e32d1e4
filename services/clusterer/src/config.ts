import { env, setting, z } from '@understudy/config';
import { databaseSettings, grpcSettings, kafkaSettings } from '@understudy/service';

export const settings = {
  kafka: kafkaSettings,
  grpc: grpcSettings,
  database: databaseSettings,
  clustering: {
    similarityThreshold: setting(
      'UNDERSTUDY_CLUSTERER_SIMILARITY_THRESHOLD',
      z.coerce.number().min(0).max(1).default(0.3),
    ),
    minTaskSize: setting('UNDERSTUDY_CLUSTERER_MIN_TASK_SIZE', env.positiveInt().default(5)),
  },
  classifyCacheMs: setting(
    'UNDERSTUDY_CLUSTERER_CLASSIFY_CACHE_MS',
    env.positiveInt().default(5_000),
  ),
  embedder: {
    address: setting('UNDERSTUDY_EMBEDDER_ADDRESS', env.text().default('embedder:50051')),
    timeoutMs: setting('UNDERSTUDY_EMBEDDER_TIMEOUT_MS', env.positiveInt().default(2_000)),
  },
};
