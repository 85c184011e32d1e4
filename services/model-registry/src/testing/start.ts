import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Environment } from '@understudy/config';
import { ModelRegistryService } from '@understudy/contracts';
import { createClient, GrpcServer, type Client, type ClientOptions } from '@understudy/grpc';
import { startService, type RunningService, type StartOptions } from '@understudy/service';
import type { settings } from '../config.js';
import { definition } from '../service.js';
import { testToken, writePrincipalsFile, type TestPrincipal } from './principals.js';

export interface RegistryOptions {
  /** Who may call, besides the admin of every tenant that `connect()` calls as by default. */
  readonly principals?: readonly TestPrincipal[];
  /** More variables, e.g. TLS files or `UNDERSTUDY_LOG_LEVEL`. */
  readonly env?: Environment;
  readonly start?: StartOptions;
}

export interface TestRegistry {
  /** Its `stop()` also removes the principals file. */
  readonly service: RunningService<typeof settings>;
  readonly address: string;
  /** The token of `test-admin`, an admin of every tenant. */
  readonly adminToken: string;
  /** A client presenting `token` (the admin's by default) as `authorization: Bearer`. */
  connect(token?: string, options?: ClientOptions): Client<typeof ModelRegistryService>;
}

/**
 * The registry for integration tests: on these brokers and database, on loopback ports it picks,
 * with authentication on, as deployed. Its principals file holds `test-admin` and `principals`.
 */
export async function startRegistry(
  brokers: readonly string[],
  databaseUrl: string,
  options: RegistryOptions = {},
): Promise<TestRegistry> {
  const adminToken = testToken('test-admin');
  const principals: TestPrincipal[] = [
    { subject: 'test-admin', token: adminToken, roles: ['admin'], tenants: ['*'] },
    ...(options.principals ?? []),
  ];
  const dir = await mkdtemp(join(tmpdir(), 'registry-principals-'));
  const principalsFile = join(dir, 'principals.json');
  await writePrincipalsFile(principalsFile, principals);
  let service: RunningService<typeof settings>;
  try {
    service = await startService(
      definition,
      {
        UNDERSTUDY_KAFKA_BROKERS: brokers.join(','),
        UNDERSTUDY_DATABASE_URL: databaseUrl,
        UNDERSTUDY_GRPC_HOST: '127.0.0.1',
        UNDERSTUDY_GRPC_PORT: '0',
        UNDERSTUDY_OPS_HOST: '127.0.0.1',
        UNDERSTUDY_OPS_PORT: '0',
        UNDERSTUDY_LOG_LEVEL: 'silent',
        UNDERSTUDY_SERVING_ENDPOINT: 'http://slm.test:8000/v1',
        UNDERSTUDY_REGISTRY_PRINCIPALS_FILE: principalsFile,
        ...options.env,
      },
      options.start,
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const address = `127.0.0.1:${String(service.app.get(GrpcServer).port)}`;
  return {
    service: {
      ...service,
      stop: async () => {
        await service.stop();
        await rm(dir, { recursive: true, force: true });
      },
    },
    address,
    adminToken,
    connect: (token = adminToken, clientOptions = {}) =>
      createClient(ModelRegistryService, address, {
        ...clientOptions,
        metadata: { authorization: `Bearer ${token}`, ...clientOptions.metadata },
      }),
  };
}
