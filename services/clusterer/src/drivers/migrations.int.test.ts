import type { TaskEvent } from '@understudy/contracts';
import { revert } from '@understudy/database';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { openDatabase, postgresUrl } from '@understudy/service';
import { silentLogger } from '@understudy/telemetry';
import { createDatabase, uniqueName } from '@understudy/testbed';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultPriceTable } from '../domain/prices.js';
import { Reclusterer } from '../handlers/reclusterer.js';
import { TaskIndexes } from '../handlers/task-index.js';
import { CallStore } from './call-store.js';
import { CallRow, OutboxRow, SignatureRow, TaskRow, TenantStateRow } from './entities.js';
import { migrations } from './migrations.js';
import { TaskStore } from './task-store.js';

/*
 * The upgrade from leader clustering (migration 1) to discovery (migration 2) on a database that
 * holds tasks and calls, as a running clusterer left it: what survives, what becomes unassigned,
 * that the service's stores and a re-clustering work on the result, and that down() gives back
 * migration 1's schema with the tasks it can hold.
 */

const schema = 'clusterer';
const entities = [TaskRow, CallRow, SignatureRow, TenantStateRow, OutboxRow];
const ids = {
  announced: '00000000-0000-4000-8000-000000000001',
  owed: '00000000-0000-4000-8000-000000000002',
  candidate: '00000000-0000-4000-8000-000000000003',
  otherCandidate: '00000000-0000-4000-8000-000000000004',
};

function open(url: string, count: number): Promise<DataSource> {
  // What service.ts does at boot: open the schema and apply every pending migration.
  return openDatabase(
    { url, poolSize: 2 },
    {
      schema,
      entities,
      migrations: migrations.slice(0, count),
      applicationName: 'migrations-test',
    },
  );
}

/** Leader clustering's state: tasks with centroid sums and owed events, calls as members. */
async function populate(db: DataSource, tenant: string, other: string): Promise<void> {
  const task = (id: string, tenantId: string, state: string, sum: string, calls: number) =>
    db.query(
      `INSERT INTO task VALUES ($1, $2, $3, 'support', 'support: invoices', '{invoice}', $4,
         $5::double precision[], 'hashing-v1', 'hashing', $6, 1, $7,
         '2026-11-20T10:00:00Z', '2026-11-24T10:00:00Z')`,
      [
        id,
        tenantId,
        `sig-${id.slice(-1)}`,
        state,
        sum,
        calls,
        id === ids.owed ? 'discovered' : null,
      ],
    );
  await task(ids.announced, tenant, 'active', '{3,4}', 3);
  await task(ids.owed, tenant, 'active', '{0,0}', 2);
  await task(ids.candidate, tenant, 'candidate', '{1,0}', 2);
  await task(ids.otherCandidate, other, 'candidate', '{0,1}', 1);
  const members: [string, string, string][] = [
    [tenant, 'a1', ids.announced],
    [tenant, 'a2', ids.announced],
    [tenant, 'a3', ids.announced],
    [tenant, 'b1', ids.owed],
    [tenant, 'b2', ids.owed],
    [tenant, 'c1', ids.candidate],
    [tenant, 'c2', ids.candidate],
    [other, 'd1', ids.otherCandidate],
  ];
  for (const [tenantId, callId, taskId] of members) {
    await db.query(
      `INSERT INTO task_member VALUES ($1, $2, $3, 'trace', 'span', '2026-11-24T09:00:00Z', 0.9,
         true, $4, 'openai', 'gpt-4o', 800, 120, false)`,
      [tenantId, callId, taskId, `hash-${callId}`],
    );
  }
}

/** Columns, keys, checks and indexes of the schema, for comparing two databases. */
async function catalogOf(db: DataSource): Promise<Record<string, string[]>> {
  const list = async (sql: string) =>
    (await db.query<{ item: string }[]>(sql, [schema])).map((row) => row.item);
  return {
    columns: await list(
      `SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
              coalesce(column_default, '') AS item
         FROM information_schema.columns
        WHERE table_schema = $1 AND table_name <> 'understudy_migrations'
        ORDER BY table_name, column_name`,
    ),
    constraints: await list(
      `SELECT t.relname || ': ' || c.conname || ' ' || pg_get_constraintdef(c.oid) AS item
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = $1 AND t.relname <> 'understudy_migrations' AND c.contype <> 'n'
        ORDER BY 1`,
    ),
    indexes: await list(
      `SELECT indexdef AS item FROM pg_indexes
        WHERE schemaname = $1 AND tablename <> 'understudy_migrations' ORDER BY indexname`,
    ),
  };
}

describe('clusterer migrations on a populated database', () => {
  const { kafka, postgres } = inject('testbed');
  const tenant = uniqueName('tenant');
  const other = uniqueName('tenant');
  const events: TaskEvent[] = [];
  let url: string;
  let db: DataSource;
  let messaging: Messaging;
  let leaderSchema: Record<string, string[]>;

  beforeAll(async () => {
    url = postgresUrl(await createDatabase(postgres, uniqueName('clusterer-upgrade')));
    const fresh = await open(postgresUrl(await createDatabase(postgres, uniqueName('v1'))), 1);
    leaderSchema = await catalogOf(fresh);
    await fresh.destroy();

    const leader = await open(url, 1);
    await populate(leader, tenant, other);
    await leader.destroy();
    db = await open(url, migrations.length);

    messaging = new Messaging({
      driver: new KafkaDriver({ brokers: kafka.brokers, clientId: 'migrations-test' }),
      producerName: 'migrations-test',
      topics: [topics.tasks],
    });
    messaging.on(topics.tasks, { group: uniqueName('migrations-test') }, (event) => {
      if (event.meta?.tenantId === tenant) events.push(event);
    });
    await messaging.connect();
    await messaging.consumers.start();
  });

  afterAll(async () => {
    await messaging.stop();
    await db.destroy();
  });

  const taskRows = () =>
    db.query<Record<string, unknown>[]>(
      `SELECT task_id, state, signatures, centroid, call_count, announced_call_count
         FROM task ORDER BY task_id`,
    );
  const callRows = () =>
    db.query<{ tenant_id: string; call_id: string; task_id: string | null }[]>(
      'SELECT tenant_id, call_id, task_id, assigned_by, signature FROM call ORDER BY call_id',
    );

  it('keeps active tasks and their calls; candidates give their calls back unassigned', async () => {
    expect(await taskRows()).toEqual([
      {
        task_id: ids.announced,
        state: 'active',
        signatures: [`sig-1`],
        centroid: [0.6, 0.8],
        call_count: '3',
        announced_call_count: '3',
      },
      // Its discovery was still owed: the next run announces it again.
      {
        task_id: ids.owed,
        state: 'active',
        signatures: ['sig-2'],
        centroid: null,
        call_count: '2',
        announced_call_count: '0',
      },
    ]);
    const assigned = (taskId: string | null, by: string | null, signature: string) => ({
      task_id: taskId,
      assigned_by: by,
      signature,
    });
    expect(await callRows()).toEqual([
      { tenant_id: tenant, call_id: 'a1', ...assigned(ids.announced, 'signature', 'sig-1') },
      { tenant_id: tenant, call_id: 'a2', ...assigned(ids.announced, 'signature', 'sig-1') },
      { tenant_id: tenant, call_id: 'a3', ...assigned(ids.announced, 'signature', 'sig-1') },
      { tenant_id: tenant, call_id: 'b1', ...assigned(ids.owed, 'signature', 'sig-2') },
      { tenant_id: tenant, call_id: 'b2', ...assigned(ids.owed, 'signature', 'sig-2') },
      { tenant_id: tenant, call_id: 'c1', ...assigned(null, null, 'sig-3') },
      { tenant_id: tenant, call_id: 'c2', ...assigned(null, null, 'sig-3') },
      { tenant_id: other, call_id: 'd1', ...assigned(null, null, 'sig-4') },
    ]);
  });

  it("leaves state the service's stores read: tenants listed, index, reports, window", async () => {
    const tasks = new TaskStore(db);
    const calls = new CallStore(db);
    expect((await tasks.tenants()).map((state) => state.tenantId).sort()).toEqual(
      [tenant, other].sort(),
    );
    const index = await tasks.index(tenant);
    expect(index.tasks.map((task) => task.id).sort()).toEqual([ids.announced, ids.owed]);
    expect(index.generation).toBe(0);
    expect(await calls.statistics(tenant, ids.announced)).toMatchObject({
      callCount: 3,
      errorCount: 0,
    });
    const window = await calls.window(tenant, new Date('2026-11-01'), new Date(), 100);
    expect(window.calls.map((call) => call.callId)).toEqual([
      'a1',
      'a2',
      'a3',
      'b1',
      'b2',
      'c1',
      'c2',
    ]);
    expect(window.table.hasVector.every((flag) => flag === 0)).toBe(true);
  });

  it('reverts to the leader-clustering schema with the active tasks and their members', async () => {
    expect((await revert(db)).map((record) => record.name)).toEqual(['Discovery1767312000000']);
    expect(await catalogOf(db)).toEqual(leaderSchema);
    expect(
      await db.query(
        'SELECT task_id, state, centroid_sum, call_count, pending_event FROM task ORDER BY task_id',
      ),
    ).toEqual([
      {
        task_id: ids.announced,
        state: 'active',
        centroid_sum: [expect.closeTo(1.8, 12), expect.closeTo(2.4, 12)],
        call_count: '3',
        pending_event: null,
      },
      {
        task_id: ids.owed,
        state: 'active',
        centroid_sum: null,
        call_count: '2',
        pending_event: 'discovered',
      },
    ]);
    expect(
      await db.query<{ call_id: string }[]>('SELECT call_id FROM task_member ORDER BY call_id'),
    ).toEqual(['a1', 'a2', 'a3', 'b1', 'b2'].map((callId) => ({ call_id: callId })));

    // And up again, as the next boot does.
    await db.destroy();
    db = await open(url, migrations.length);
    expect((await taskRows()).map((row) => row.announced_call_count)).toEqual(['3', '0']);
    expect((await callRows()).map((row) => row.call_id)).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
  });

  it('lets the first re-clustering retire the tasks whose calls discovery cannot read, announced', async () => {
    const tasks = new TaskStore(db);
    const reclusterer = new Reclusterer(
      new CallStore(db),
      tasks,
      new TaskIndexes(tasks, 1_000),
      messaging,
      {
        checkMs: 60_000,
        afterCalls: 1,
        intervalMs: 60_000,
        windowMs: 30 * 86_400_000,
        maxWindowCalls: 1_000,
        retireAfterMs: 3 * 86_400_000,
        discovery: { minTaskSize: 2, minClusterSize: 2, sampleSize: 100 },
        prices: defaultPriceTable,
      },
      silentLogger,
    );
    await reclusterer.run(tenant);
    expect(await tasks.activeTasks(tenant)).toEqual([]);
    expect(await tasks.outbox(tenant, 10)).toEqual([]);
    await expect.poll(() => events.length, { timeout: 30_000 }).toBe(2);
    expect(
      events.map((event) =>
        event.kind.case === 'retired'
          ? [event.kind.value.task?.taskId, event.kind.value.reason]
          : [event.kind.case],
      ),
    ).toEqual(
      expect.arrayContaining([
        [ids.announced, 'dissolved'],
        [ids.owed, 'dissolved'],
      ]),
    );
    expect((await callRows()).filter((call) => call.task_id !== null)).toEqual([]);
  });
});
