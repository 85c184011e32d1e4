import { fileURLToPath } from 'node:url';
import { env, setting } from '@understudy/config';

/**
 * The checkout's `.state/embedded` (git-ignored), the same from src/ and dist/. Not the home
 * directory: as root, PostgreSQL runs as its own user, which cannot enter /root.
 */
const defaultDataDir = fileURLToPath(new URL('../../../.state/embedded', import.meta.url));

/**
 * Everything the embedded platform reads from the environment, validated at boot. Any other
 * `UNDERSTUDY_*` variable reaches the services as it would in a cluster (e.g.
 * `UNDERSTUDY_CLUSTERER_MIN_TASK_SIZE`); their listening addresses are the platform's to set.
 */
export const embeddedConfig = {
  dataDir: setting('UNDERSTUDY_DATA_DIR', env.text().default(defaultDataDir)),
  host: setting('UNDERSTUDY_HOST', env.text().default('127.0.0.1')),
  /** Where agents send OTLP/HTTP traces (the collector). */
  otlpPort: setting('UNDERSTUDY_OTLP_PORT', env.port().default(4318)),
  /** Where agents send OTLP/gRPC (the collector; health and reflection too). */
  otlpGrpcPort: setting('UNDERSTUDY_OTLP_GRPC_PORT', env.port().default(4317)),
  /** The OpenAI-compatible inference gateway. */
  gatewayPort: setting('UNDERSTUDY_GATEWAY_PORT', env.port().default(8080)),
  /** The model registry's gRPC API (health and reflection included). */
  registryPort: setting('UNDERSTUDY_REGISTRY_PORT', env.port().default(50051)),
  opsPort: setting('UNDERSTUDY_OPS_PORT', env.port().default(9464)),
  logLevel: setting(
    'UNDERSTUDY_LOG_LEVEL',
    env.oneOf(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  ),
  otlpEndpoint: setting('OTEL_EXPORTER_OTLP_ENDPOINT', env.url().optional()),
  /** The tenant every key of this single-machine platform belongs to. */
  tenant: setting('UNDERSTUDY_TENANT', env.text().default('default')),
  llm: {
    /** The teacher: an OpenAI-compatible base URL including the version. */
    baseUrl: setting('UNDERSTUDY_LLM_BASE_URL', env.url().default('https://api.openai.com/v1')),
    apiKey: setting('UNDERSTUDY_LLM_API_KEY', env.text().optional(), { secret: true }),
  },
  /** The trainer venv's python; by default the cached venv built from the trainer's lock. */
  trainerPython: setting('UNDERSTUDY_TRAINER_PYTHON', env.text().optional()),
};
