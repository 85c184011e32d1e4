import { env, setting } from '@understudy/config';
import { grpcClientSettings, type ServiceConfig } from '@understudy/service';

export const settings = {
  http: {
    host: setting('UNDERSTUDY_HTTP_HOST', env.text().default('0.0.0.0')),
    port: setting('UNDERSTUDY_HTTP_PORT', env.port().default(8080)),
  },
  /** JSON `[{ "tenant", "sha256" }]`, mounted from a Secret; read once at boot. */
  tenantKeysFile: setting('UNDERSTUDY_TENANT_KEYS_FILE', env.text()),
  /** The model registry's gRPC server (WatchRoutingTable), called with a reader's token. */
  registry: grpcClientSettings('UNDERSTUDY_REGISTRY'),
  /** host:port of the clusterer's gRPC server (ClassifyCall). */
  clustererAddress: setting('UNDERSTUDY_CLUSTERER_ADDRESS', env.text()),
  classifyTimeoutMs: setting('UNDERSTUDY_CLASSIFY_TIMEOUT_MS', env.positiveInt().default(250)),
  llm: {
    /** OpenAI-compatible base URL including the version, e.g. https://api.openai.com/v1. */
    baseUrl: setting('UNDERSTUDY_LLM_BASE_URL', env.url()),
    apiKey: setting('UNDERSTUDY_LLM_API_KEY', env.text().optional(), { secret: true }),
    /** `gen_ai.provider.name` on the LLM's spans. */
    provider: setting('UNDERSTUDY_LLM_PROVIDER', env.text().default('openai')),
    timeoutMs: setting('UNDERSTUDY_LLM_TIMEOUT_MS', env.positiveInt().default(600_000)),
  },
  /** How long a small model may take before the fallback, for routes that set no timeout. */
  slmTimeoutMs: setting('UNDERSTUDY_SLM_TIMEOUT_MS', env.positiveInt().default(30_000)),
  shadowConcurrency: setting('UNDERSTUDY_SHADOW_CONCURRENCY', env.positiveInt().default(8)),
  maxBodyBytes: setting('UNDERSTUDY_MAX_BODY_BYTES', env.positiveInt().default(16 * 1024 * 1024)),
};

export type GatewayConfig = ServiceConfig<typeof settings>;
