import { migrate, migrationsTableName, pendingMigrations, revert } from '@understudy/database';
import { openDatabase, postgresUrl } from '@understudy/service';
import { createDatabase, uniqueName } from '@understudy/testbed';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { entities } from './entities.js';
import { migrations } from './migrations.js';

/*
 * The registry's migrations on the test bed's real PostgreSQL: applied at boot as the service
 * applies them, the schema they leave read back from the catalog, then every one reverted and
 * applied again. The schema is read from information_schema and pg_catalog, never through the
 * stores, so a migration that drifts from what the stores rely on fails here by name.
 */

/** The schema service.ts opens the registry's database with. */
const schema = 'registry';
const names = migrations.map((migration) => migration.name);
const records = migrations.map((migration) => ({
  name: migration.name,
  timestamp: Number(migration.name.slice(-13)),
}));

const tz = 'timestamp with time zone';

/*
 * The first migration's schema, spelled out: the keys and columns the stores were built on.
 * Later migrations are checked against the schema their own up() leaves (see below), so adding
 * one does not mean editing this list.
 */
const tables = [
  'dataset',
  'model_version',
  'processed_event',
  'route',
  'routing_change',
  'routing_head',
  'task',
  'training_run',
];

/** `table: column type` in column order; every column of the registry is NOT NULL. */
const columns = [
  ...['tenant_id text', 'dataset_id text', 'task_id text', 'version integer', 'request_id text']
    .concat(['request_digest text', 'body jsonb', `created_at ${tz}`])
    .map((column) => `dataset: ${column}`),
  ...['tenant_id text', 'model_version_id text', 'task_id text', 'run_id text', 'dataset_id text']
    .concat(['version integer', 'base_model text', 'adapter jsonb', 'serving_name text'])
    .concat(['stage text', 'traffic_percent integer', 'metrics jsonb', 'description text'])
    .concat(['labels jsonb', 'request_id text', 'request_digest text', 'row_version integer'])
    .concat([`created_at ${tz}`, `updated_at ${tz}`])
    .map((column) => `model_version: ${column}`),
  ...['consumer text', 'event_id text', `processed_at ${tz}`].map(
    (column) => `processed_event: ${column}`,
  ),
  ...['tenant_id text', 'route_id text', 'task_id text', 'model_version_id text', 'endpoint text']
    .concat(['serving_name text', 'stage text', 'traffic_percent integer'])
    .concat(['min_confidence double precision', 'fallback jsonb', 'row_version integer'])
    .concat([`updated_at ${tz}`])
    .map((column) => `route: ${column}`),
  ...['revision bigint', 'tenant_id text', 'routes jsonb', `created_at ${tz}`].map(
    (column) => `routing_change: ${column}`,
  ),
  ...['id smallint', 'revision bigint'].map((column) => `routing_head: ${column}`),
  ...['tenant_id text', 'task_id text', 'revision bigint', 'state text', 'body jsonb']
    .concat([`updated_at ${tz}`])
    .map((column) => `task: ${column}`),
  ...['tenant_id text', 'run_id text', 'task_id text', 'dataset_id text', 'state text']
    .concat(['body jsonb', `created_at ${tz}`, `updated_at ${tz}`])
    .map((column) => `training_run: ${column}`),
];

const positiveVersion = 'CHECK ((version > 0))';
const percent = 'CHECK (((traffic_percent >= 0) AND (traffic_percent <= 100)))';
const stages = (...values: string[]) =>
  `CHECK ((stage = ANY (ARRAY[${values.map((value) => `'${value}'::text`).join(', ')}])))`;

/**
 * `table: name definition`, sorted. The keys the stores rely on: tenant-first primary keys
 * (ON CONFLICT targets), idempotency keys on request_id, gap-free versions per task, one route
 * per stage and per model version, routes only to model versions that exist, one head row.
 */
const constraints = [
  'dataset: dataset_pkey PRIMARY KEY (tenant_id, dataset_id)',
  'dataset: dataset_request_key UNIQUE (tenant_id, request_id)',
  `dataset: dataset_version_check ${positiveVersion}`,
  'dataset: dataset_version_key UNIQUE (tenant_id, task_id, version)',
  'model_version: model_version_pkey PRIMARY KEY (tenant_id, model_version_id)',
  'model_version: model_version_request_key UNIQUE (tenant_id, request_id)',
  'model_version: model_version_serving_name_key UNIQUE (serving_name)',
  `model_version: model_version_stage_check ${stages('registered', 'shadow', 'canary', 'production', 'retired')}`,
  `model_version: model_version_traffic_percent_check ${percent}`,
  `model_version: model_version_version_check ${positiveVersion}`,
  'model_version: model_version_version_key UNIQUE (tenant_id, task_id, version)',
  'processed_event: processed_event_pkey PRIMARY KEY (consumer, event_id)',
  'route: route_model_version_fk FOREIGN KEY (tenant_id, model_version_id) ' +
    'REFERENCES model_version(tenant_id, model_version_id)',
  'route: route_model_version_key UNIQUE (tenant_id, model_version_id)',
  'route: route_pkey PRIMARY KEY (tenant_id, route_id)',
  `route: route_stage_check ${stages('shadow', 'canary', 'production')}`,
  'route: route_stage_key UNIQUE (tenant_id, task_id, stage)',
  `route: route_traffic_percent_check ${percent}`,
  'routing_change: routing_change_pkey PRIMARY KEY (revision)',
  'routing_head: routing_head_id_check CHECK ((id = 1))',
  'routing_head: routing_head_pkey PRIMARY KEY (id)',
  'task: task_pkey PRIMARY KEY (tenant_id, task_id)',
  'training_run: training_run_pkey PRIMARY KEY (tenant_id, run_id)',
];

/** Indexes of their own, not those backing a key: the lookups by task and by tenant. */
const indexes = [
  `routing_change_tenant_idx: CREATE INDEX routing_change_tenant_idx ON ${schema}.routing_change USING btree (tenant_id, revision)`,
  `training_run_task_idx: CREATE INDEX training_run_task_idx ON ${schema}.training_run USING btree (tenant_id, task_id)`,
];

/** Every object of the schema but the migrations table's: relations, types, functions. */
const objects = [
  ...tables.map((table) => `table ${table}`),
  ...constraints
    .map((constraint) => constraint.split(' '))
    .filter(([, , kind]) => kind === 'PRIMARY' || kind === 'UNIQUE')
    .map(([, name]) => `index ${name ?? ''}`),
  ...indexes.map((index) => `index ${index.split(':')[0] ?? ''}`),
].sort();

let dataSource: DataSource;

/** Reads the catalog through another database's connection. */
async function withDataSource<T>(other: DataSource, read: () => Promise<T>): Promise<T> {
  const own = dataSource;
  dataSource = other;
  try {
    return await read();
  } finally {
    dataSource = own;
  }
}

beforeAll(async () => {
  const database = await createDatabase(inject('testbed').postgres, uniqueName('registry-schema'));
  // What service.ts does at boot: open the schema and apply every pending migration.
  dataSource = await openDatabase(
    { url: postgresUrl(database), poolSize: 2 },
    { schema, entities, migrations, applicationName: 'registry-migrations-test' },
  );
});

afterAll(async () => {
  await dataSource.destroy();
});

async function rows<T>(sql: string, parameters: unknown[] = [schema]): Promise<T[]> {
  return dataSource.query<T[]>(sql, parameters);
}

async function applied(): Promise<string[]> {
  const found = await rows<{ name: string }>(
    `SELECT name FROM "${schema}"."${migrationsTableName}" ORDER BY id`,
    [],
  );
  return found.map((row) => row.name);
}

async function tablesIn(namespace: string): Promise<string[]> {
  const found = await rows<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = $1 AND table_name <> $2 ORDER BY table_name`,
    [namespace, migrationsTableName],
  );
  return found.map((row) => row.table_name);
}

async function columnsIn(): Promise<string[]> {
  const found = await rows<{ column: string }>(
    `SELECT table_name || ': ' || column_name || ' ' || data_type AS column
       FROM information_schema.columns
      WHERE table_schema = $1 AND table_name <> $2
      ORDER BY table_name, ordinal_position`,
    [schema, migrationsTableName],
  );
  return found.map((row) => row.column);
}

async function nullableColumnsIn(): Promise<string[]> {
  const found = await rows<{ column: string }>(
    `SELECT table_name || '.' || column_name AS column FROM information_schema.columns
      WHERE table_schema = $1 AND table_name <> $2 AND is_nullable = 'YES'`,
    [schema, migrationsTableName],
  );
  return found.map((row) => row.column);
}

/** Keys, checks and foreign keys; PostgreSQL 18 also lists NOT NULL here (contype n). */
async function constraintsIn(): Promise<string[]> {
  const found = await rows<{ constraint: string }>(
    `SELECT t.relname || ': ' || c.conname || ' ' || pg_get_constraintdef(c.oid) AS constraint
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND t.relname <> $2 AND c.contype IN ('p', 'u', 'f', 'c', 'x')
      ORDER BY t.relname, c.conname`,
    [schema, migrationsTableName],
  );
  return found.map((row) => row.constraint);
}

async function indexesIn(): Promise<string[]> {
  const found = await rows<{ index: string }>(
    `SELECT ic.relname || ': ' || pg_get_indexdef(i.indexrelid) AS index
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND t.relname <> $2
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
      ORDER BY ic.relname`,
    [schema, migrationsTableName],
  );
  return found.map((row) => row.index);
}

/**
 * Everything in the schema a down() could leave behind: relations of any kind (tables,
 * indexes, sequences, views, composite types), enums and domains, functions. The migrations
 * table, its primary key index and its id sequence are TypeORM's and stay.
 */
async function objectsIn(): Promise<string[]> {
  const found = await rows<{ object: string }>(
    `WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
          mt AS (SELECT to_regclass(format('%I.%I', $1::text, $2::text)) AS oid)
     SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence'
              WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'p' THEN 'table'
              WHEN 'I' THEN 'index' ELSE 'relation ' || c.relkind::text END || ' ' || c.relname AS object
       FROM pg_class c, ns, mt
      WHERE c.relnamespace = ns.oid AND c.oid <> mt.oid
        AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = c.oid AND i.indrelid = mt.oid)
        AND NOT EXISTS (SELECT 1 FROM pg_depend d
                         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                           AND d.refobjid = mt.oid)
     UNION ALL
     SELECT 'type ' || t.typname FROM pg_type t, ns
      WHERE t.typnamespace = ns.oid AND t.typtype IN ('d', 'e', 'm', 'r')
     UNION ALL
     SELECT 'function ' || p.proname FROM pg_proc p, ns WHERE p.pronamespace = ns.oid
     ORDER BY 1`,
    [schema, migrationsTableName],
  );
  return found.map((row) => row.object);
}

/** The schema as the stores see it, compared whole after every up. */
async function schemaOf() {
  return {
    tables: await tablesIn(schema),
    columns: await columnsIn(),
    nullable: await nullableColumnsIn(),
    constraints: await constraintsIn(),
    indexes: await indexesIn(),
    objects: await objectsIn(),
  };
}

const expected = { tables, columns, nullable: [], constraints, indexes, objects };

async function triggersIn(): Promise<string[]> {
  const found = await rows<{ trigger: string }>(
    `SELECT pg_get_triggerdef(g.oid) AS trigger
       FROM pg_trigger g
       JOIN pg_class t ON t.oid = g.tgrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND NOT g.tgisinternal
      ORDER BY g.tgname`,
  );
  return found.map((row) => row.trigger);
}

/** Everything a migration can change, for comparing an up() with the down() that undoes it. */
async function fullSchemaOf() {
  return { ...(await schemaOf()), triggers: await triggersIn() };
}

/**
 * The schema after each prefix of the migrations, each applied to a fresh database, so that
 * reverting the k-th migration can be compared with never having applied it.
 */
async function schemasAfterEachMigration() {
  const schemas = [];
  for (let count = 0; count <= migrations.length; count += 1) {
    const database = await createDatabase(
      inject('testbed').postgres,
      uniqueName(`registry-prefix-${String(count)}`),
    );
    const prefix = await openDatabase(
      { url: postgresUrl(database), poolSize: 1 },
      {
        schema,
        entities,
        migrations: migrations.slice(0, count),
        applicationName: 'registry-migrations-test',
      },
    );
    try {
      schemas.push(await withDataSource(prefix, fullSchemaOf));
    } finally {
      await prefix.destroy();
    }
  }
  return schemas;
}

describe('registry migrations', () => {
  it('are all applied at boot on a fresh database, into the registry schema', async () => {
    expect(names.length).toBeGreaterThan(0);
    expect(await applied()).toEqual(names);
    expect(await pendingMigrations(dataSource)).toEqual([]);
    expect(await tablesIn('public')).toEqual([]);
  });

  it('leave the tables, columns, keys, checks and indexes the stores rely on', async () => {
    const current = await schemaOf();
    for (const [part, items] of Object.entries(expected)) {
      expect(current[part as keyof typeof current], part).toEqual(expect.arrayContaining(items));
    }
    // RoutingStore bumps the single head row and never inserts it.
    expect(await rows('SELECT id, revision FROM routing_head', [])).toEqual([
      { id: 1, revision: '0' },
    ]);
  });

  it('have a column of the right type for every column of every entity', async () => {
    const declared = dataSource.entityMetadatas.flatMap((metadata) =>
      metadata.columns.map((column) => ({
        table: metadata.tableName,
        column: column.databaseName,
        type: String(column.type),
      })),
    );
    expect(declared.length).toBeGreaterThan(0);
    const missing = await rows<{ column: string }>(
      `SELECT e.table_name || '.' || e.column_name || ' ' || e.type AS column
         FROM jsonb_to_recordset($2::jsonb) AS e(table_name text, column_name text, type text)
        WHERE NOT EXISTS (
          SELECT 1 FROM pg_attribute a
            JOIN pg_class t ON t.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
           WHERE n.nspname = $1 AND t.relname = e.table_name AND a.attname = e.column_name
             AND NOT a.attisdropped AND a.atttypid = to_regtype(e.type))`,
      [
        schema,
        JSON.stringify(
          declared.map(({ table, column, type }) => ({
            table_name: table,
            column_name: column,
            type,
          })),
        ),
      ],
    );
    expect(missing.map((row) => row.column)).toEqual([]);
  });

  it('keep the audit log append-only', async () => {
    await rows(
      `INSERT INTO audit_entry (audit_entry_id, tenant_id, occurred_at, actor, action,
         resource_type, resource_id, request_id, reason, details, trace_id)
       VALUES (gen_random_uuid(), 'acme', now(), 'ops', 'Test', 'MODEL_VERSION', 'mv', '', '',
         '{}', '')`,
      [],
    );
    for (const statement of [
      "UPDATE audit_entry SET actor = 'someone else'",
      'DELETE FROM audit_entry',
      'TRUNCATE audit_entry',
    ]) {
      await expect(rows(statement, []), statement).rejects.toThrow(/append-only/);
    }
    expect(await rows('SELECT actor FROM audit_entry', [])).toEqual([{ actor: 'ops' }]);
  });

  it('revert one by one, newest first, each to the schema before it was applied', async () => {
    const before = await schemasAfterEachMigration();
    expect(await fullSchemaOf()).toEqual(before[names.length]);
    for (let left = names.length - 1; left >= 0; left -= 1) {
      // What an operator runs to roll back: one step under the migration lock.
      expect(await revert(dataSource)).toEqual([records[left]]);
      expect(await applied()).toEqual(names.slice(0, left));
      expect(await pendingMigrations(dataSource)).toEqual(records.slice(left));
      expect(await fullSchemaOf(), `after reverting ${names[left] ?? ''}`).toEqual(before[left]);
    }
    expect(await objectsIn()).toEqual([]);
    expect(await tablesIn(schema)).toEqual([]);
    expect(await applied()).toEqual([]);
    // Nothing left to revert: a no-op, not an error.
    expect(await revert(dataSource)).toEqual([]);
    expect(await applied()).toEqual([]);
  });

  it('apply again from empty to the same schema, and only once', async () => {
    const [full] = (await schemasAfterEachMigration()).slice(-1);
    expect(await migrate(dataSource)).toEqual(records);
    expect(await applied()).toEqual(names);
    expect(await fullSchemaOf()).toEqual(full);
    expect(await rows('SELECT id, revision FROM routing_head', [])).toEqual([
      { id: 1, revision: '0' },
    ]);
    expect(await migrate(dataSource)).toEqual([]);
    expect(await applied()).toEqual(names);
    expect(await fullSchemaOf()).toEqual(full);
  });
});
