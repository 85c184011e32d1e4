import { env, setting } from '@understudy/config';
import { databaseSettings, grpcSettings, kafkaSettings } from '@understudy/service';

const day = 86_400_000;

export const settings = {
  kafka: kafkaSettings,
  grpc: grpcSettings,
  database: databaseSettings,
  discovery: {
    /** Fewest calls a task holds. */
    minTaskSize: setting('UNDERSTUDY_CLUSTERER_MIN_TASK_SIZE', env.positiveInt().default(5)),
    /** Fewest calls for a signature group to stand alone and for a density cluster. */
    minClusterSize: setting('UNDERSTUDY_CLUSTERER_MIN_CLUSTER_SIZE', env.positiveInt().default(15)),
    /** Most calls one density clustering sees (it is quadratic in them). */
    sampleSize: setting('UNDERSTUDY_CLUSTERER_SAMPLE_SIZE', env.positiveInt().default(3_000)),
  },
  reclustering: {
    /** How often each replica looks for tenants due a re-clustering. */
    checkMs: setting('UNDERSTUDY_CLUSTERER_CHECK_MS', env.positiveInt().default(10_000)),
    /** Calls recorded since the last run that make a tenant due at once. */
    afterCalls: setting(
      'UNDERSTUDY_CLUSTERER_RECLUSTER_AFTER_CALLS',
      env.positiveInt().default(1_000),
    ),
    /** Longest a recorded call waits for a run; also how often idle tasks are looked for. */
    intervalMs: setting(
      'UNDERSTUDY_CLUSTERER_RECLUSTER_INTERVAL_MS',
      env.positiveInt().default(15 * 60_000),
    ),
    /** The calls each run considers: those that started within this long. */
    windowMs: setting('UNDERSTUDY_CLUSTERER_WINDOW_MS', env.positiveInt().default(7 * day)),
    /** At most this many of them, newest first: bounds a run's memory (about 1.3 KiB a call). */
    maxWindowCalls: setting(
      'UNDERSTUDY_CLUSTERER_MAX_WINDOW_CALLS',
      env.positiveInt().default(200_000),
    ),
    /** A task with no call for this long is retired. */
    retireAfterMs: setting(
      'UNDERSTUDY_CLUSTERER_RETIRE_AFTER_MS',
      env.positiveInt().default(3 * day),
    ),
  },
  /** How long a replica answers ClassifyCall and assigns calls from its copy of a tenant's tasks. */
  indexTtlMs: setting('UNDERSTUDY_CLUSTERER_INDEX_TTL_MS', env.positiveInt().default(5_000)),
  priceTableFile: setting('UNDERSTUDY_CLUSTERER_PRICE_TABLE_FILE', env.text().optional()),
  embedder: {
    address: setting('UNDERSTUDY_EMBEDDER_ADDRESS', env.text().default('embedder:50051')),
    timeoutMs: setting('UNDERSTUDY_EMBEDDER_TIMEOUT_MS', env.positiveInt().default(2_000)),
  },
};
