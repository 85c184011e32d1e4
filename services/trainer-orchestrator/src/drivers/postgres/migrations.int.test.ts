import { migrate, migrationsTableName, revert } from '@understudy/database';
import { openDatabase, postgresUrl } from '@understudy/service';
import { createDatabase, uniqueName } from '@understudy/testbed';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrations } from './migrations.js';
import { TrainingRunRow } from './training-run.entity.js';

/*
 * The orchestrator's migrations on the test bed's PostgreSQL, applied as service.ts applies them
 * at boot; the columns they leave are read from the catalog, not through the store.
 */

const schema = 'trainer';
let dataSource: DataSource;

beforeAll(async () => {
  const database = await createDatabase(inject('testbed').postgres, uniqueName('trainer-schema'));
  dataSource = await openDatabase(
    { url: postgresUrl(database), poolSize: 2 },
    { schema, entities: [TrainingRunRow], migrations, applicationName: 'trainer-migrations-test' },
  );
});

afterAll(async () => {
  await dataSource.destroy();
});

/** `column type nullability` of training_run, in column order. */
async function columns(): Promise<string[]> {
  const found = await dataSource.query<{ column: string }[]>(
    `SELECT column_name || ' ' || data_type || (CASE is_nullable WHEN 'YES' THEN ' null' ELSE '' END)
            AS column
       FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = 'training_run'
      ORDER BY ordinal_position`,
    [schema],
  );
  return found.map((row) => row.column);
}

async function applied(): Promise<string[]> {
  const found = await dataSource.query<{ name: string }[]>(
    `SELECT name FROM "${schema}"."${migrationsTableName}" ORDER BY id`,
  );
  return found.map((row) => row.name);
}

describe('trainer-orchestrator migrations', () => {
  it('add the lineage columns, and revert to the schema before them exactly', async () => {
    expect(await applied()).toEqual(migrations.map((migration) => migration.name));
    const latest = await columns();
    expect(latest.slice(-2)).toEqual(['requested_by text', 'result jsonb null']);

    await revert(dataSource);
    expect(await columns()).toEqual(latest.slice(0, -2));
    await revert(dataSource);
    expect(await columns()).toEqual([]);

    await migrate(dataSource);
    expect(await columns()).toEqual(latest);
  });
});
