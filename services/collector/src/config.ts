import { env, setting } from '@understudy/config';
import { kafkaSettings, type ServiceConfig } from '@understudy/service';

export const settings = {
  kafka: kafkaSettings,
  otlpHttp: {
    host: setting('UNDERSTUDY_HTTP_HOST', env.text().default('0.0.0.0')),
    port: setting('UNDERSTUDY_HTTP_PORT', env.port().default(4318)),
  },
  tenantKeysFile: setting('UNDERSTUDY_TENANT_KEYS_FILE', env.text()),
  /** Largest export accepted, after decompression. */
  maxBodyBytes: setting(
    'UNDERSTUDY_COLLECTOR_MAX_BODY_BYTES',
    env.positiveInt().default(4_194_304),
  ),
  /**
   * How long an export waits for Kafka before it is answered 503: below the OTLP exporters'
   * default 10 s timeout, so they see the back-pressure rather than their own timeout.
   */
  publishTimeoutMs: setting(
    'UNDERSTUDY_COLLECTOR_PUBLISH_TIMEOUT_MS',
    env.positiveInt().default(8_000),
  ),
};

export type CollectorConfig = ServiceConfig<typeof settings>;
