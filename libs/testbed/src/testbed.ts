import { relative } from 'node:path';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { Progress } from './artifacts.js';
import type { TestbedEndpoints } from './endpoints.js';
import { kafkaLibs, startKafka } from './kafka.js';
import { minioBinary, startMinio } from './minio.js';
import { repoRoot } from './paths.js';
import { startPostgres } from './postgres.js';

export interface Testbed {
  readonly endpoints: TestbedEndpoints;
  stop(): Promise<void>;
}

interface Started {
  readonly logFile: string;
  stop(): Promise<void>;
}

async function timed<S extends Started>(
  name: string,
  start: () => Promise<S>,
  address: (server: S) => string,
  progress: Progress,
): Promise<S> {
  const started = Date.now();
  const server = await start();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const log = relative(repoRoot, server.logFile);
  progress(`testbed: ${name} ready in ${seconds}s on ${address(server)} (log ${log})`);
  return server;
}

/**
 * Starts Kafka, MinIO and PostgreSQL in parallel, each once, for a whole test run. If one fails,
 * the others are stopped and the error carries every failure's message and log.
 */
export async function startTestbed(progress: Progress = () => undefined): Promise<Testbed> {
  // Cold caches take minutes: fetch and build before the clocks of the servers start.
  await kafkaLibs(progress);
  await minioBinary(progress);
  const [kafka, minio, postgres] = await Promise.allSettled([
    timed(
      'kafka',
      () => startKafka(),
      (s) => s.endpoint.brokers.join(','),
      progress,
    ),
    timed(
      'minio',
      () => startMinio(),
      (s) => `${s.endpoint.endPoint}:${String(s.endpoint.port)}`,
      progress,
    ),
    timed(
      'postgres',
      () => startPostgres(),
      (s) => `${s.endpoint.host}:${String(s.endpoint.port)}`,
      progress,
    ),
  ]);
  const results = [kafka, minio, postgres];
  const running = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = async (): Promise<void> => {
    await Promise.all(running.map((server) => server.stop()));
  };
  if (
    kafka.status === 'fulfilled' &&
    minio.status === 'fulfilled' &&
    postgres.status === 'fulfilled'
  ) {
    return {
      endpoints: {
        kafka: kafka.value.endpoint,
        s3: minio.value.endpoint,
        postgres: postgres.value.endpoint,
      },
      stop: stopAll,
    };
  }
  await stopAll();
  const failures = results.flatMap((r) =>
    r.status === 'rejected' ? [UnderstudyError.from(r.reason)] : [],
  );
  throw new UnderstudyError(
    ErrorCode.Unavailable,
    `the test bed did not start:\n${failures.map((f) => f.message).join('\n\n')}`,
    { cause: failures[0] },
  );
}
