import { describeConfig, loadConfig } from '@understudy/config';
import { UnderstudyError } from '@understudy/errors';
import { embeddedConfig } from './config.js';
import { startPlatform } from './platform.js';

function configOrExit() {
  try {
    return loadConfig(embeddedConfig);
  } catch (error) {
    // A bad environment is the operator's to fix: say what is wrong, without a stack trace.
    console.error(error instanceof UnderstudyError ? error.message : error);
    process.exit(2);
  }
}

const config = configOrExit();

const platform = await startPlatform(config);
const { logger } = platform;
logger.info(
  { config: describeConfig(embeddedConfig, config) },
  'understudy embedded platform started',
);
process.stdout.write(
  [
    '',
    'Understudy (embedded) is running.',
    `  agents send OTLP/HTTP traces to  ${platform.otlpUrl}/v1/traces`,
    `  or OTLP/gRPC to                  ${platform.otlpGrpcAddress}`,
    `  OpenAI-compatible gateway        ${platform.gatewayUrl}/chat/completions`,
    `  model registry (gRPC)            ${platform.registryAddress}   e.g. grpcurl -plaintext ${platform.registryAddress} list`,
    `  registry admin token             ${platform.registryTokenFile}   (grpcurl -H "authorization: Bearer $(cat ${platform.registryTokenFile})")`,
    `  API key (tenant ${platform.tenant})         ${config.dataDir}/api-key   (Authorization: Bearer <key>)`,
    `  metrics / health                 ${platform.opsUrl}/metrics  ${platform.opsUrl}/readyz`,
    `  data                             ${config.dataDir}`,
    'Press Ctrl-C to stop.',
    '',
  ].join('\n'),
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    platform.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  });
}
