import { env, setting } from '@understudy/config';
import { kafkaSettings, s3Settings, type ServiceConfig } from '@understudy/service';
import { contentKeysFileSetting } from '@understudy/tenancy';
import { archiveSettings } from '@understudy/call-archive';

export const settings = {
  kafka: kafkaSettings,
  /** Inline blobs (images, audio) of captured calls and the call archive. */
  s3: s3Settings,
  otlpHttp: {
    host: setting('UNDERSTUDY_HTTP_HOST', env.text().default('0.0.0.0')),
    port: setting('UNDERSTUDY_HTTP_PORT', env.port().default(4318)),
  },
  otlpGrpc: {
    host: setting('UNDERSTUDY_GRPC_HOST', env.text().default('0.0.0.0')),
    port: setting('UNDERSTUDY_GRPC_PORT', env.port().default(4317)),
  },
  tenantKeysFile: setting('UNDERSTUDY_TENANT_KEYS_FILE', env.text()),
  /** Largest export a tenant may send, after decompression; the keys file may override it. */
  maxBodyBytes: setting(
    'UNDERSTUDY_COLLECTOR_MAX_BODY_BYTES',
    env.positiveInt().default(4_194_304),
  ),
  /**
   * What each tenant may send to one replica (token buckets holding one second's worth); the
   * keys file may override them per tenant.
   */
  tenantRate: {
    requestsPerSecond: setting(
      'UNDERSTUDY_COLLECTOR_TENANT_REQUESTS_PER_SECOND',
      env.positiveInt().default(100),
    ),
    bytesPerSecond: setting(
      'UNDERSTUDY_COLLECTOR_TENANT_BYTES_PER_SECOND',
      env.positiveInt().default(16_777_216),
    ),
  },
  /**
   * Bytes of exports being read, decoded or ingested at once, all tenants together, counted at
   * their estimated decoded size (5-15 times the wire size for real exports); beyond it exports
   * are refused with 503 / UNAVAILABLE. Must hold the largest export.
   */
  maxInFlightBytes: setting(
    'UNDERSTUDY_COLLECTOR_MAX_IN_FLIGHT_BYTES',
    env.positiveInt().default(268_435_456),
  ),
  /**
   * How long an export waits for Kafka before it is answered 503: below the OTLP exporters'
   * default 10 s timeout, so they see the back-pressure rather than their own timeout.
   */
  publishTimeoutMs: setting(
    'UNDERSTUDY_COLLECTOR_PUBLISH_TIMEOUT_MS',
    env.positiveInt().default(8_000),
  ),
  redaction: {
    /**
     * Keys the hash behind redaction placeholders (per tenant, through HKDF), so the same value
     * always gets the same placeholder and nobody without it can test a guess against one.
     */
    secret: setting('UNDERSTUDY_COLLECTOR_REDACTION_SECRET', env.text().min(32), {
      secret: true,
    }),
    /** Extra patterns and allow-lists (see the README); built-in detectors only when unset. */
    rulesFile: setting('UNDERSTUDY_COLLECTOR_REDACTION_RULES_FILE', env.text().optional()),
  },
  archive: archiveSettings,
  /** Tenants with an active key here get their content encrypted in Kafka and storage. */
  contentKeysFile: contentKeysFileSetting,
  join: {
    /** How long a call waits for its content events and its enclosing spans. */
    timeoutMs: setting('UNDERSTUDY_COLLECTOR_JOIN_TIMEOUT_MS', env.positiveInt().default(30_000)),
    /**
     * How long a captured call is remembered so that a re-exported span is not captured again:
     * longer than exporters keep retrying. A restart replays this much of the fragments topic.
     */
    dedupWindowMs: setting(
      'UNDERSTUDY_COLLECTOR_DEDUP_WINDOW_MS',
      env.positiveInt().default(300_000),
    ),
    /** Above this, the oldest waiting calls are published at once, with what they have. */
    maxHeldBytes: setting(
      'UNDERSTUDY_COLLECTOR_JOIN_MAX_HELD_BYTES',
      env.positiveInt().default(268_435_456),
    ),
    /** How often waiting calls are checked and offsets committed. */
    tickMs: setting('UNDERSTUDY_COLLECTOR_JOIN_TICK_MS', env.positiveInt().default(250)),
  },
};

export type CollectorConfig = ServiceConfig<typeof settings>;
