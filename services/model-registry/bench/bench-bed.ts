/**
 * What both registry benchmarks stand on: PostgreSQL and Kafka from the test bed, the registry
 * bundled and run as processes, a bearer token it accepts, and the machine's description.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelRegistryService } from '@understudy/contracts';
import { createClient, type Client } from '@understudy/grpc';
import { postgresUrl } from '@understudy/service';
import {
  createDatabase,
  startKafka,
  startPostgres,
  uniqueName,
  type KafkaServer,
  type PostgresServer,
} from '@understudy/testbed';
import { testToken, writePrincipalsFile } from '../src/testing/principals.ts';
import {
  buildRegistry,
  startRegistryProcess,
  type RegistryProcess,
} from '../src/testing/registry-process.int.ts';
import { rounded } from './stats.ts';

export const registryRoot = fileURLToPath(new URL('..', import.meta.url));

export type RegistryClient = Client<typeof ModelRegistryService>;

/** Progress lines on stderr, stamped with the seconds since the bench started. */
function progressLine(): (message: string) => void {
  const started = Date.now();
  return (message) => {
    const seconds = ((Date.now() - started) / 1000).toFixed(0).padStart(5);
    console.error(`[${seconds}s] ${message}`);
  };
}

interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly commit: string;
  /** Whether the working tree had changes against `commit`. */
  readonly dirty: boolean;
  readonly loadAverageAtStart: readonly number[];
}

function describeMachine(): Machine {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: registryRoot, encoding: 'utf8' }).trim();
  return {
    cpu: cpus()[0]?.model ?? 'unknown CPU',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    commit: git('rev-parse', 'HEAD'),
    dirty: git('status', '--porcelain').length > 0,
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
  };
}

/** One run of a benchmark: where it reports progress, and its folder for logs and results. */
export interface Run {
  readonly progress: (message: string) => void;
  /** bench/dist/<name>-<time>/. */
  readonly outDir: string;
  /**
   * Writes results.json: the machine (with its load average at the end), then `results`;
   * returns its path.
   */
  writeResults(results: Readonly<Record<string, unknown>>): Promise<string>;
}

/** Starts a run of the benchmark `name`: its folder, and a first line naming the machine. */
export async function startRun(name: string): Promise<Run> {
  const progress = progressLine();
  const machine = describeMachine();
  const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
  const outDir = join(registryRoot, 'bench', 'dist', `${name}-${stamp}`);
  await mkdir(outDir, { recursive: true });
  progress(
    `${machine.cpu} × ${String(machine.cores)}, load ${machine.loadAverageAtStart.join(' ')}`,
  );
  return {
    progress,
    outDir,
    async writeResults(results) {
      const file = join(outDir, 'results.json');
      const atEnd = { ...machine, loadAverageAtEnd: loadavg().map((l) => rounded(l)) };
      await writeFile(file, JSON.stringify({ machine: atEnd, ...results }, null, 2));
      return file;
    },
  };
}

export interface Bed {
  readonly outDir: string;
  /** Sent as `authorization` metadata: an admin of every tenant. */
  readonly token: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Starts one more registry process on the bed's database. */
  registry(label: string, env?: Readonly<Record<string, string>>): Promise<RegistryProcess>;
  client(address: string): RegistryClient;
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL and Kafka, builds the registry, and writes a principals file with one
 * admin token (UNDERSTUDY_REGISTRY_PRINCIPALS_FILE) that every registry process is given.
 */
export async function startBed(outDir: string, progress: (message: string) => void): Promise<Bed> {
  progress(`building the registry; logs in ${relative(process.cwd(), outDir)}`);
  const bundle = await buildRegistry(join(outDir, 'registry'));
  const token = testToken('bench');
  const principalsFile = join(outDir, 'principals.json');
  await writePrincipalsFile(principalsFile, [
    { subject: 'bench', token, roles: ['admin'], tenants: ['*'] },
  ]);
  const metadata = { authorization: `Bearer ${token}` };
  const servers: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const server of servers.splice(0).reverse()) await server.stop();
  };
  try {
    progress('starting PostgreSQL and Kafka');
    const postgres: PostgresServer = await startPostgres({ name: 'bench-registry-postgres' });
    servers.push(postgres);
    const kafka: KafkaServer = await startKafka({ name: 'bench-registry-kafka' });
    servers.push(kafka);
    const databaseUrl = postgresUrl(await createDatabase(postgres.endpoint, uniqueName('bench')));
    const clients: RegistryClient[] = [];
    return {
      outDir,
      token,
      metadata,
      async registry(label, env = {}) {
        const started = await startRegistryProcess({
          bundle,
          brokers: kafka.endpoint.brokers,
          databaseUrl,
          logFile: join(outDir, `${label}.log`),
          env: {
            UNDERSTUDY_REGISTRY_PRINCIPALS_FILE: principalsFile,
            UNDERSTUDY_LOG_LEVEL: 'warn',
            ...env,
          },
        });
        servers.push({
          stop: async () => {
            await started.process.stop();
          },
        });
        return started;
      },
      client(address) {
        const client = createClient(ModelRegistryService, address, { metadata });
        clients.push(client);
        return client;
      },
      async stop() {
        for (const client of clients.splice(0)) client.close();
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
