import { env, setting, z } from '@understudy/config';
import { grpcSettings, kafkaSettings } from '@understudy/service';
import { contentKeysFileSetting } from '@understudy/tenancy';

export const settings = {
  kafka: kafkaSettings,
  grpc: grpcSettings,
  /** Keys that open encrypted call content; unset, encrypted calls are dead-lettered. */
  contentKeysFile: contentKeysFileSetting,
  featurizer: {
    dimension: setting('UNDERSTUDY_EMBEDDER_DIMENSION', env.positiveInt().default(256)),
    seed: setting('UNDERSTUDY_EMBEDDER_SEED', z.coerce.number().int().min(0).default(1)),
    cacheSize: setting('UNDERSTUDY_EMBEDDER_CACHE_SIZE', env.positiveInt().default(10_000)),
  },
};
