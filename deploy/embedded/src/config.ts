import { fileURLToPath } from 'node:url';
import { env, setting } from '@understudy/config';

/**
 * The checkout's `.state/embedded` (git-ignored), the same from src/ and dist/. Not the home
 * directory: as root, PostgreSQL runs as its own user, which cannot enter /root.
 */
const defaultDataDir = fileURLToPath(new URL('../../../.state/embedded', import.meta.url));

/** Everything the embedded platform reads from the environment, validated at boot. */
export const embeddedConfig = {
  dataDir: setting('UNDERSTUDY_DATA_DIR', env.text().default(defaultDataDir)),
  host: setting('UNDERSTUDY_HOST', env.text().default('127.0.0.1')),
  grpcPort: setting('UNDERSTUDY_GRPC_PORT', env.port().default(50051)),
  opsPort: setting('UNDERSTUDY_OPS_PORT', env.port().default(9464)),
  logLevel: setting(
    'UNDERSTUDY_LOG_LEVEL',
    env.oneOf(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  ),
  otlpEndpoint: setting('OTEL_EXPORTER_OTLP_ENDPOINT', env.url().optional()),
};
