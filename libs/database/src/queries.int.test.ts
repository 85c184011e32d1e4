import { createServer } from 'node:net';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { HealthRegistry } from '@understudy/telemetry';
import { createDatabase, uniqueName, type PostgresEndpoint } from '@understudy/testbed';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDataSource, type DatabaseOptions } from './data-source.js';
import { mapDatabaseError } from './errors.js';
import { migrate } from './migrations.js';
import { readinessCheck } from './readiness.js';
import { Model } from './testing/entities.js';
import { testMigrations } from './testing/migrations.js';
import { withTransaction } from './transaction.js';

let database: PostgresEndpoint;
let dataSource: DataSource;

function options(overrides: Partial<DatabaseOptions> = {}): DatabaseOptions {
  return {
    postgres: database,
    entities: [Model],
    migrations: testMigrations,
    ...overrides,
  };
}

beforeAll(async () => {
  database = await createDatabase(inject('testbed').postgres, uniqueName('database-queries'));
  dataSource = await createDataSource(options());
  await migrate(dataSource);
});

afterAll(async () => {
  await dataSource.destroy();
});

/** A port nothing listens on: bound by the OS, then released. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Resolves once `count` callers have arrived, so two transactions interleave deterministically. */
function barrier(count: number): () => Promise<void> {
  let arrived = 0;
  let release: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (release = resolve));
  return async () => {
    arrived += 1;
    if (arrived === count) release();
    await all;
  };
}

describe('error mapping against PostgreSQL', () => {
  it('turns a unique violation into AlreadyExists', async () => {
    const models = dataSource.getRepository(Model);
    await models.insert({ name: 'support-triage', version: 1 });
    const error = await models
      .insert({ name: 'support-triage', version: 1 })
      .catch((thrown: unknown) => mapDatabaseError(thrown));
    expect(error).toBeInstanceOf(UnderstudyError);
    expect(error).toMatchObject({
      code: ErrorCode.AlreadyExists,
      retryable: false,
      details: { sqlState: '23505', constraint: 'model_name_version_idx', table: 'model' },
    });
  });

  it('turns a check violation into InvalidArgument', async () => {
    const error = await dataSource
      .getRepository(Model)
      .insert({ name: 'bad', version: 0 })
      .catch((thrown: unknown) => mapDatabaseError(thrown));
    expect(error).toMatchObject({
      code: ErrorCode.InvalidArgument,
      details: { constraint: 'model_version_positive' },
    });
  });

  it('reports a refused connection as a retryable Unavailable', async () => {
    const port = await unusedPort();
    const failure = await createDataSource(options({ postgres: { ...database, port } })).catch(
      (thrown: unknown) => thrown,
    );
    expect(failure).toBeInstanceOf(UnderstudyError);
    expect(failure).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });
  });

  it('reports wrong credentials as an Unavailable that retrying will not fix', async () => {
    const failure = await createDataSource(
      options({ postgres: { ...database, password: 'wrong' } }),
    ).catch((thrown: unknown) => thrown);
    expect(failure).toMatchObject({
      code: ErrorCode.Unavailable,
      retryable: false,
      details: { sqlState: '28P01' },
    });
  });
});

describe('withTransaction', () => {
  /** Write skew: both read the top version, then insert top + 1; SERIALIZABLE commits only one. */
  async function conflictingPair(retries: number) {
    await dataSource.query('DELETE FROM model WHERE name = $1', ['counter']);
    const bothRead = barrier(2);
    let attempts = 0;
    const increment = () =>
      withTransaction(
        dataSource,
        async (manager) => {
          attempts += 1;
          const [row] = await manager.query<{ top: number }[]>(
            `SELECT coalesce(max(version), 0)::int AS top FROM model WHERE name = 'counter'`,
          );
          await bothRead();
          await manager.query(`INSERT INTO model (name, version) VALUES ('counter', $1)`, [
            (row?.top ?? 0) + 1,
          ]);
        },
        { isolation: 'SERIALIZABLE', retries },
      );
    const results = await Promise.allSettled([increment(), increment()]);
    const versions = await dataSource.query<{ version: number }[]>(
      `SELECT version FROM model WHERE name = 'counter' ORDER BY version`,
    );
    return { results, attempts, versions: versions.map((row) => row.version) };
  }

  it('runs a transaction again after a serialization failure', async () => {
    const { results, attempts, versions } = await conflictingPair(3);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(attempts).toBe(3);
    expect(versions).toEqual([1, 2]);
  });

  it('gives up after the allowed retries with a retryable Aborted', async () => {
    const { results, attempts, versions } = await conflictingPair(0);
    expect(attempts).toBe(2);
    expect(versions).toEqual([1]);
    const rejected = results.find((result) => result.status === 'rejected');
    expect(rejected?.reason).toBeInstanceOf(UnderstudyError);
    expect(rejected?.reason).toMatchObject({
      code: ErrorCode.Aborted,
      retryable: true,
      details: { sqlState: '40001' },
    });
  });

  it('commits on success and rolls back on a domain error, which it does not retry', async () => {
    const models = dataSource.getRepository(Model);
    const id = await withTransaction(dataSource, async (manager) => {
      const saved = await manager.getRepository(Model).save({ name: 'committed', version: 1 });
      return saved.id;
    });
    expect(await models.findOneBy({ id })).toMatchObject({ name: 'committed' });

    let attempts = 0;
    const refusal = new UnderstudyError(ErrorCode.FailedPrecondition, 'model is retired');
    await expect(
      withTransaction(dataSource, async (manager) => {
        attempts += 1;
        await manager.getRepository(Model).insert({ name: 'rolled-back', version: 1 });
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    expect(attempts).toBe(1);
    expect(await models.countBy({ name: 'rolled-back' })).toBe(0);
  });
});

describe('readinessCheck', () => {
  it('reports healthy through the telemetry health registry', async () => {
    const health = new HealthRegistry();
    health.register('postgres', readinessCheck(dataSource));
    const report = await health.readiness();
    expect(report.ready).toBe(true);
    expect(report.checks['postgres']).toMatchObject({ healthy: true });
  });

  it('reports unhealthy when no pooled connection frees up in time', async () => {
    const small = await createDataSource(options({ poolSize: 1 }));
    const holder = small.createQueryRunner();
    try {
      await holder.connect();
      const started = Date.now();
      const result = await readinessCheck(small, { timeoutMs: 200 })(new AbortController().signal);
      expect(result).toEqual({ healthy: false, detail: 'database did not answer within 200 ms' });
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await holder.release();
      await small.destroy();
    }
  });

  it('reports unhealthy once the data source is closed', async () => {
    const closed = await createDataSource(options());
    await closed.destroy();
    const result = await readinessCheck(closed)(new AbortController().signal);
    expect(result).toEqual({
      healthy: false,
      detail: 'database unavailable: Driver not Connected',
    });
  });
});
