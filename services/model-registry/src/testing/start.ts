import { GrpcServer } from '@understudy/grpc';
import { startService, type RunningService } from '@understudy/service';
import type { settings } from '../config.js';
import { definition } from '../service.js';

/** The registry for integration tests: on these brokers and database, on loopback ports it picks. */
export async function startRegistry(
  brokers: readonly string[],
  databaseUrl: string,
): Promise<{ service: RunningService<typeof settings>; address: string }> {
  const service = await startService(definition, {
    UNDERSTUDY_KAFKA_BROKERS: brokers.join(','),
    UNDERSTUDY_DATABASE_URL: databaseUrl,
    UNDERSTUDY_GRPC_HOST: '127.0.0.1',
    UNDERSTUDY_GRPC_PORT: '0',
    UNDERSTUDY_OPS_HOST: '127.0.0.1',
    UNDERSTUDY_OPS_PORT: '0',
    UNDERSTUDY_LOG_LEVEL: 'silent',
    UNDERSTUDY_SERVING_ENDPOINT: 'http://slm.test:8000/v1',
  });
  return { service, address: `127.0.0.1:${String(service.app.get(GrpcServer).port)}` };
}
