import { createLogger } from '@understudy/telemetry';
import { createDatabase, uniqueName, type PostgresEndpoint } from '@understudy/testbed';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDataSource, migrationsTableName } from './data-source.js';
import { migrate, pendingMigrations, revert } from './migrations.js';
import { testMigrations } from './testing/migrations.js';

const schema = 'registry';
const first = { name: 'CreateModels1700000000000', timestamp: 1700000000000 };
const second = { name: 'CreateDeployments1700000000001', timestamp: 1700000000001 };

let database: PostgresEndpoint;
const opened: DataSource[] = [];
const logLines: { message?: string }[] = [];
const logger = createLogger('database-int-test', {
  level: 'info',
  destination: { write: (line: string) => logLines.push(JSON.parse(line) as { message?: string }) },
});

async function open(): Promise<DataSource> {
  const dataSource = await createDataSource({
    postgres: database,
    schema,
    entities: [],
    migrations: testMigrations,
    applicationName: 'database-int-test',
    logger,
  });
  opened.push(dataSource);
  return dataSource;
}

async function tablesIn(dataSource: DataSource): Promise<string[]> {
  const rows = await dataSource.query<{ table_name: string }[]>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
    [schema],
  );
  return rows.map((row) => row.table_name);
}

async function constraintsIn(dataSource: DataSource): Promise<string[]> {
  const rows = await dataSource.query<{ constraint_name: string }[]>(
    `SELECT constraint_name FROM information_schema.table_constraints
      WHERE table_schema = $1 AND constraint_type IN ('CHECK', 'FOREIGN KEY', 'UNIQUE')
        AND constraint_name NOT LIKE '%_not_null'
      ORDER BY constraint_name`,
    [schema],
  );
  return rows.map((row) => row.constraint_name);
}

async function indexesIn(dataSource: DataSource): Promise<string[]> {
  const rows = await dataSource.query<{ indexname: string }[]>(
    `SELECT indexname FROM pg_indexes
      WHERE schemaname = $1 AND tablename <> $2 AND indexname NOT LIKE '%_pkey'
      ORDER BY indexname`,
    [schema, migrationsTableName],
  );
  return rows.map((row) => row.indexname);
}

async function appliedIn(dataSource: DataSource): Promise<string[]> {
  const rows = await dataSource.query<{ name: string }[]>(
    `SELECT name FROM "${schema}"."${migrationsTableName}" ORDER BY id`,
  );
  return rows.map((row) => row.name);
}

beforeAll(async () => {
  database = await createDatabase(inject('testbed').postgres, uniqueName('database-migrations'));
});

afterAll(async () => {
  await Promise.all(opened.map((dataSource) => dataSource.destroy()));
});

describe('migrate', () => {
  it('applies the migrations once when two replicas boot at the same time', async () => {
    const [replicaA, replicaB] = await Promise.all([open(), open()]);
    expect(await pendingMigrations(replicaA)).toEqual([first, second]);

    const [appliedByA, appliedByB] = await Promise.all([migrate(replicaA), migrate(replicaB)]);

    // Whichever replica took the lock applied both; the other waited and found nothing to do.
    expect([...appliedByA, ...appliedByB]).toEqual([first, second]);
    expect(logLines.filter((line) => line.message?.includes('waiting for it'))).toHaveLength(1);
    expect([appliedByA.length, appliedByB.length].sort()).toEqual([0, 2]);
    expect(await appliedIn(replicaA)).toEqual([first.name, second.name]);
    expect(await pendingMigrations(replicaB)).toEqual([]);
    expect(await migrate(replicaB)).toEqual([]);
  });

  it('created the schema, tables, indexes and constraints where the schema says', async () => {
    const dataSource = await open();
    expect(await tablesIn(dataSource)).toEqual(['deployment', 'model', migrationsTableName]);
    expect(await indexesIn(dataSource)).toEqual(['deployment_model_idx', 'model_name_version_idx']);
    expect(await constraintsIn(dataSource)).toEqual([
      'deployment_model_fk',
      'model_version_positive',
    ]);
  });

  it('reverts newest first and applies again', async () => {
    const dataSource = await open();

    expect(await revert(dataSource)).toEqual([second]);
    expect(await tablesIn(dataSource)).toEqual(['model', migrationsTableName]);
    expect(await indexesIn(dataSource)).toEqual(['model_name_version_idx']);
    expect(await pendingMigrations(dataSource)).toEqual([second]);

    expect(await revert(dataSource, { steps: 5 })).toEqual([first]);
    expect(await tablesIn(dataSource)).toEqual([migrationsTableName]);
    expect(await constraintsIn(dataSource)).toEqual([]);
    expect(await revert(dataSource)).toEqual([]);

    expect(await migrate(dataSource)).toEqual([first, second]);
    expect(await tablesIn(dataSource)).toEqual(['deployment', 'model', migrationsTableName]);
    expect(await indexesIn(dataSource)).toEqual(['deployment_model_idx', 'model_name_version_idx']);
    expect(await constraintsIn(dataSource)).toEqual([
      'deployment_model_fk',
      'model_version_positive',
    ]);
  });

  it('rejects a step count that is not a positive integer', async () => {
    const dataSource = await open();
    await expect(revert(dataSource, { steps: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
