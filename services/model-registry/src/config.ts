import { env, setting } from '@understudy/config';
import { databaseSettings, grpcSettings, kafkaSettings } from '@understudy/service';

export const settings = {
  kafka: kafkaSettings,
  grpc: grpcSettings,
  database: databaseSettings,
  /**
   * Base URL of the OpenAI-compatible server that serves adapters, written on new routes. A
   * model version's `endpoint` label overrides it (one serving process per adapter).
   */
  servingEndpoint: setting('UNDERSTUDY_SERVING_ENDPOINT', env.url().optional()),
  /** How often routing watchers look for changes made by other replicas. */
  routingPollMs: setting('UNDERSTUDY_ROUTING_POLL_MS', env.positiveInt().default(1_000)),
};
