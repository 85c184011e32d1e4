import { env, setting } from '@understudy/config';
import { databaseSettings, grpcSettings, kafkaSettings } from '@understudy/service';

export const settings = {
  kafka: kafkaSettings,
  grpc: grpcSettings,
  /** Who may call the registry (src/auth, README "Security"). */
  access: {
    /** `off` lets any caller read and change every tenant: for trials only. */
    auth: setting('UNDERSTUDY_REGISTRY_AUTH', env.oneOf(['on', 'off']).default('on')),
    /** JSON principals (token digests, certificate subjects, roles, tenants) from a Secret. */
    principalsFile: setting('UNDERSTUDY_REGISTRY_PRINCIPALS_FILE', env.text().optional()),
  },
  database: databaseSettings,
  /**
   * Base URL of the OpenAI-compatible server that serves adapters, written on new routes. A
   * model version's `endpoint` label overrides it (one serving process per adapter).
   */
  servingEndpoint: setting('UNDERSTUDY_SERVING_ENDPOINT', env.url().optional()),
  /**
   * How often the routing feed looks for changes by itself. PostgreSQL notifications wake it at
   * once on every replica; this poll only covers notifications lost while reconnecting.
   */
  routingPollMs: setting('UNDERSTUDY_ROUTING_POLL_MS', env.positiveInt().default(5_000)),
  /**
   * Recent routing changes each replica keeps in memory for its watchers; a watcher further
   * behind reads them from the database.
   */
  routingFeedSize: setting('UNDERSTUDY_ROUTING_FEED_SIZE', env.positiveInt().default(1_024)),
  /**
   * Routing changes kept for watchers to resume from: at most this many revisions, none older
   * than UNDERSTUDY_ROUTING_RETENTION_HOURS. A watcher resuming from before them gets a snapshot.
   */
  routingRetentionRevisions: setting(
    'UNDERSTUDY_ROUTING_RETENTION_REVISIONS',
    env.positiveInt().default(10_000),
  ),
  routingRetentionHours: setting(
    'UNDERSTUDY_ROUTING_RETENTION_HOURS',
    env.positiveInt().default(168),
  ),
  outbox: {
    /** Most events the relay publishes per pass. */
    batchSize: setting('UNDERSTUDY_OUTBOX_BATCH_SIZE', env.positiveInt().default(500)),
    /**
     * The relay's poll behind its wake-ups (PostgreSQL notifications at commit), and how often a
     * standby replica tries to become the relay.
     */
    pollMs: setting('UNDERSTUDY_OUTBOX_POLL_MS', env.positiveInt().default(1_000)),
    /** How long shutdown waits for the outbox to drain; within UNDERSTUDY_SHUTDOWN_TIMEOUT_MS. */
    drainMs: setting('UNDERSTUDY_OUTBOX_DRAIN_MS', env.positiveInt().default(10_000)),
  },
  /**
   * Test-only fault, honoured only with NODE_ENV=test: `exit-after-publish` kills the process
   * after the outbox relay published a batch and before it deleted it (src/outbox.crash.int.test.ts).
   */
  testFault: setting('UNDERSTUDY_TEST_FAULT', env.oneOf(['exit-after-publish']).optional()),
  nodeEnv: setting('NODE_ENV', env.text().default('production')),
};
