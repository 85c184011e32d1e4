/**
 * The registry as its own process, as in its image: bundled from the sources by the test bed's
 * bundleService, configured through its environment (src/config.ts), ready once /readyz answers.
 * For integration tests and benchmarks only (*.int.ts: the lint config lets nothing else import
 * it, as it lets nothing else import the test bed). Benchmarks load it with plain Node.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleService, freePort, ServiceProcess } from '@understudy/testbed';

const registryRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Builds src/main.ts into `<outDir>/registry.mjs` (outDir inside the package) and returns it. */
export async function buildRegistry(outDir: string): Promise<string> {
  await bundleService({ root: registryRoot, entries: { registry: 'src/main.ts' }, outDir });
  return join(outDir, 'registry.mjs');
}

export interface RegistryProcessOptions {
  /** From buildRegistry. */
  readonly bundle: string;
  readonly brokers: readonly string[];
  readonly databaseUrl: string;
  readonly logFile: string;
  /** More settings (src/config.ts), e.g. UNDERSTUDY_ROUTING_POLL_MS. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface RegistryProcess {
  /** host:port of its gRPC server. */
  readonly address: string;
  readonly process: ServiceProcess;
}

/** Starts a registry process on free loopback ports and waits until it is ready. */
export async function startRegistryProcess(
  options: RegistryProcessOptions,
): Promise<RegistryProcess> {
  const grpcPort = await freePort();
  const process = await ServiceProcess.start({
    name: 'the model registry',
    bundle: options.bundle,
    opsPort: await freePort(),
    servingPorts: [grpcPort],
    logFile: options.logFile,
    cwd: registryRoot,
    env: {
      UNDERSTUDY_KAFKA_BROKERS: options.brokers.join(','),
      UNDERSTUDY_DATABASE_URL: options.databaseUrl,
      UNDERSTUDY_GRPC_HOST: '127.0.0.1',
      UNDERSTUDY_GRPC_PORT: String(grpcPort),
      UNDERSTUDY_SERVING_ENDPOINT: 'http://slm.bench:8000/v1',
      ...options.env,
    },
  });
  return { address: `127.0.0.1:${String(grpcPort)}`, process };
}
