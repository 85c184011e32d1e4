/**
 * The transactional outbox against crashes, on real PostgreSQL and a Kafka of this test's own
 * (killed and restarted here): registry processes built from the sources, killed with SIGKILL.
 * (a) Changes made while Kafka is down wait in the outbox, survive the registry's death, and
 *     reach Kafka once each, in order per key, with their trace, from the next registry.
 * (b) A relay killed after publishing and before deleting (UNDERSTUDY_TEST_FAULT) leaves
 *     duplicates with the same event ids, published by the standby that takes over, and nothing
 *     else.
 * (c) Changes that roll back (a losing racer, a stale etag) leave no event: the audit events on
 *     Kafka are exactly the committed audit entries.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  create,
  fromBinary,
  isMessage,
  type DescMessage,
  type MessageShape,
} from '@bufbuild/protobuf';
import {
  AuditEventSchema,
  EventMetaSchema,
  ModelRegistryService,
  ModelStage,
  ModelVersionEventSchema,
  ModelVersionSchema,
  type ModelVersion,
} from '@understudy/contracts';
import { createDataSource } from '@understudy/database';
import { ErrorCode } from '@understudy/errors';
import { createClient, type Client } from '@understudy/grpc';
import { Header, KafkaDriver, topics, type IncomingRecord } from '@understudy/messaging';
import { postgresUrl } from '@understudy/service';
import {
  createDatabase,
  startKafka,
  uniqueName,
  type KafkaServer,
  type ProcessExit,
} from '@understudy/testbed';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { outboxRelayLock } from './drivers/outbox.js';
import { registeredVersion } from './testing/fixtures.js';
import { testToken, writePrincipalsFile } from './testing/principals.js';
import {
  buildRegistry,
  startRegistryProcess,
  type RegistryProcess,
} from './testing/registry-process.int.js';

const registryRoot = fileURLToPath(new URL('..', import.meta.url));
const relayed = [topics.modelVersions, topics.routes, topics.audit];
const topicsByName = new Map(relayed.map((topic) => [topic.name, topic]));
const decoder = new TextDecoder();
/** The test's caller: an admin of every tenant, in the principals file every registry is given. */
const adminToken = testToken('outbox-admin');

/** A record as this test reads it back from Kafka. */
interface Published {
  readonly position: string;
  readonly topic: string;
  readonly key: string;
  readonly eventId: string;
  readonly traceparent: string;
  readonly message: MessageShape<DescMessage>;
}

interface OutboxRow {
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly event_id: string;
}

let kafka: KafkaServer;
let database: DataSource;
let databaseUrl: string;
let bundleDir: string;
let bundle: string;
let principalsFile: string;
let logDir: string;
const running: RegistryProcess[] = [];
/** Every record read so far, and their positions. */
const everything: Published[] = [];
const seen = new Set<string>();

beforeAll(async () => {
  const { postgres } = inject('testbed');
  const endpoint = await createDatabase(postgres, uniqueName('registry-outbox'));
  databaseUrl = postgresUrl(endpoint);
  bundleDir = join(registryRoot, 'dist', uniqueName('outbox-crash'));
  [kafka, bundle] = await Promise.all([
    startKafka({ name: 'outbox-kafka' }),
    buildRegistry(bundleDir),
  ]);
  principalsFile = join(bundleDir, 'principals.json');
  await writePrincipalsFile(principalsFile, [
    { subject: 'outbox-test', token: adminToken, roles: ['admin'], tenants: ['*'] },
  ]);
  logDir = join(kafka.logFile, '..');
  database = await createDataSource({
    postgres: endpoint,
    schema: 'registry',
    entities: [],
    migrations: [],
  });
}, 240_000);

afterAll(async () => {
  await Promise.all(running.map((registry) => registry.process.stop()));
  await database.destroy();
  await kafka.stop();
  await rm(bundleDir, { recursive: true, force: true });
});

/** A registry process on this test's Kafka and database; `env` adds settings. */
async function start(label: string, env: Record<string, string> = {}): Promise<RegistryProcess> {
  const registry = await startRegistryProcess({
    bundle,
    brokers: kafka.endpoint.brokers,
    databaseUrl,
    logFile: join(logDir, `registry-${label}.log`),
    env: {
      UNDERSTUDY_REGISTRY_PRINCIPALS_FILE: principalsFile,
      UNDERSTUDY_OUTBOX_POLL_MS: '200',
      UNDERSTUDY_LOG_LEVEL: 'info',
      ...env,
    },
  });
  running.push(registry);
  return registry;
}

function clientOf(registry: RegistryProcess): Client<typeof ModelRegistryService> {
  return createClient(ModelRegistryService, registry.address, {
    metadata: { authorization: `Bearer ${adminToken}` },
  });
}

async function outboxRows(): Promise<OutboxRow[]> {
  return database.query<OutboxRow[]>('SELECT id, topic, key, event_id FROM outbox ORDER BY id');
}

async function outboxDrained(timeout = 60_000): Promise<void> {
  await vi.waitFor(
    async () => {
      expect(await outboxRows()).toEqual([]);
    },
    { timeout, interval: 100 },
  );
}

/** Whether some session holds the relay's lock (the probe takes it and gives it back if free). */
async function relayLeading(): Promise<boolean> {
  const runner = database.createQueryRunner();
  try {
    const [row] = (await runner.query(
      'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS free',
      [outboxRelayLock],
    )) as { free: boolean }[];
    if (row?.free === true) {
      await runner.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [outboxRelayLock]);
    }
    return row?.free !== true;
  } finally {
    await runner.release();
  }
}

function decode(record: IncomingRecord): Published {
  const topic = topicsByName.get(record.topic);
  if (topic === undefined || record.value === null) throw new Error(`unexpected ${record.topic}`);
  const header = (name: string) => {
    const value = record.headers[name];
    return value === undefined ? '' : decoder.decode(value);
  };
  return {
    position: `${record.topic}/${String(record.partition)}/${record.offset}`,
    topic: record.topic,
    key: record.key === null ? '' : decoder.decode(record.key),
    eventId: header(Header.EventId),
    traceparent: header('traceparent'),
    message: fromBinary(topic.schema, record.value),
  };
}

/**
 * The records Kafka holds that earlier reads did not return, once `complete` holds for them and
 * no more arrive for a second.
 */
async function newRecords(
  complete: (records: readonly Published[]) => boolean,
): Promise<Published[]> {
  const driver = new KafkaDriver({
    brokers: kafka.endpoint.brokers,
    clientId: uniqueName('outbox-reader'),
  });
  const records: Published[] = [];
  let lastAt = 0;
  const consumer = driver.createConsumer({
    group: uniqueName('outbox-reader'),
    topics: relayed.map((topic) => topic.name),
    concurrency: 3,
    deliver: (record) => {
      const published = decode(record);
      if (!seen.has(published.position)) records.push(published);
      lastAt = Date.now();
      return Promise.resolve();
    },
  });
  await consumer.start();
  try {
    await vi.waitFor(
      () => {
        expect(complete(records)).toBe(true);
        expect(Date.now() - lastAt).toBeGreaterThan(1_000);
      },
      { timeout: 60_000, interval: 200 },
    );
  } finally {
    await consumer.stop();
  }
  for (const record of records) seen.add(record.position);
  everything.push(...records);
  return records;
}

/** Kills Kafka outright; its data stays for restart(). */
async function killKafka(): Promise<void> {
  const group = kafka.processGroup;
  process.kill(-group, 'SIGKILL');
  await vi.waitFor(
    () => {
      expect(() => process.kill(-group, 0)).toThrow();
    },
    { timeout: 10_000, interval: 50 },
  );
}

const traceIdOf = (traceparent: string) => traceparent.split('-')[1] ?? '';

function metaOf(message: MessageShape<DescMessage>) {
  return 'meta' in message && isMessage(message.meta, EventMetaSchema) ? message.meta : undefined;
}

function modelVersionEvents(records: readonly Published[], modelVersionId: string) {
  return records
    .map((record) => record.message)
    .filter((message) => isMessage(message, ModelVersionEventSchema))
    .filter((event) => event.modelVersionId === modelVersionId);
}

async function promote(
  registry: Client<typeof ModelRegistryService>,
  version: ModelVersion,
  targetStage: ModelStage,
  trafficPercent: number,
) {
  return registry.promoteModelVersion({
    requestId: randomUUID(),
    tenantId: version.tenantId,
    modelVersionId: version.modelVersionId,
    targetStage,
    trafficPercent,
    etag: version.etag,
    reason: 'outbox crash test',
  });
}

/** Whether the records hold every one of these events. */
const holding =
  (eventIds: readonly string[]) =>
  (records: readonly Published[]): boolean => {
    const ids = new Set(records.map((record) => record.eventId));
    return eventIds.every((id) => ids.has(id));
  };

/** Event ids per topic and key, in the order given. */
function orderPerKey(rows: readonly { topic: string; key: string; eventId: string }[]) {
  const keys = new Map<string, string[]>();
  for (const { topic, key, eventId } of rows) {
    const name = `${topic} ${key}`;
    keys.set(name, [...(keys.get(name) ?? []), eventId]);
  }
  return Object.fromEntries(keys);
}

describe('transactional outbox across crashes', () => {
  const tenantId = uniqueName('tenant');
  /** Registered in (a), whose dataset (b) registers another version on. */
  let first: ModelVersion | undefined;

  it('(a) keeps the changes made while Kafka is down through a crash; the next registry publishes each once, in order', async () => {
    const r1 = await start('a1');
    const registry = clientOf(r1);
    const taskA = uniqueName('task');
    const taskB = uniqueName('task');
    const { modelVersion: a1 } = await registeredVersion(registry, tenantId, taskA);
    first = a1;
    await outboxDrained();
    await newRecords((records) => modelVersionEvents(records, a1.modelVersionId).length === 1);

    await killKafka();
    const { modelVersion: a2 } = await registeredVersion(registry, tenantId, taskA);
    const { modelVersion: b1 } = await registeredVersion(registry, tenantId, taskB);
    await promote(registry, a1, ModelStage.SHADOW, 10);
    const canary = (await promote(registry, b1, ModelStage.CANARY, 10)).modelVersion;
    await promote(registry, a2, ModelStage.CANARY, 20);
    await registry.retireModelVersion({
      tenantId,
      modelVersionId: b1.modelVersionId,
      etag: canary?.etag ?? '',
      reason: 'outbox crash test',
    });
    registry.close();
    const waiting = await outboxRows();
    expect(new Set(waiting.map((row) => row.topic))).toEqual(
      new Set(relayed.map((topic) => topic.name)),
    );
    // The leading relay reports them as its backlog.
    const metrics = await (await fetch(`${r1.process.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(
        `^understudy_registry_outbox_backlog(\\{[^}]*\\})? ${String(waiting.length)}$`,
        'm',
      ),
    );
    expect(await r1.process.kill()).toMatchObject({ signal: 'SIGKILL' });
    expect(await outboxRows()).toEqual(waiting);

    await kafka.restart();
    await start('a2');
    await outboxDrained();
    const expected = waiting.map((row) => row.event_id);
    const records = await newRecords(holding(expected));

    // Each event once and nothing else, in outbox order per key: the order the changes committed.
    expect(records.map((record) => record.eventId).sort()).toEqual([...expected].sort());
    expect(orderPerKey(records)).toEqual(
      orderPerKey(waiting.map((row) => ({ ...row, eventId: row.event_id }))),
    );
    expect(modelVersionEvents(records, a2.modelVersionId).map((event) => event.kind.case)).toEqual([
      'registered',
      'promoted',
    ]);
    expect(modelVersionEvents(records, b1.modelVersionId).map((event) => event.kind.case)).toEqual([
      'registered',
      'promoted',
      'retired',
    ]);
    // Published by another process, in the trace of the call that made the change.
    for (const record of records) {
      const traceParent = metaOf(record.message)?.traceParent ?? '';
      expect(traceIdOf(traceParent)).toMatch(/^[0-9a-f]{32}$/);
      expect(traceIdOf(record.traceparent)).toBe(traceIdOf(traceParent));
    }
    await Promise.all(running.splice(0).map((started) => started.process.stop()));
  }, 300_000);

  it('(b) a relay killed between publishing and deleting: the standby publishes the same events again, and nothing else', async () => {
    await outboxDrained();
    const faulty = await start('b-faulty', {
      NODE_ENV: 'test',
      UNDERSTUDY_TEST_FAULT: 'exit-after-publish',
    });
    await vi.waitFor(async () => {
      expect(await relayLeading()).toBe(true);
    });
    const standby = await start('b-standby');
    const registry = clientOf(standby);

    // One change: a version (on the dataset of (a)) and its audit entry, two events.
    if (first === undefined) throw new Error('(a) registered nothing');
    const { modelVersion } = await registry.registerModelVersion({
      requestId: randomUUID(),
      modelVersion: create(ModelVersionSchema, {
        tenantId,
        taskId: first.taskId,
        datasetId: first.datasetId,
        runId: randomUUID(),
        baseModel: first.baseModel,
        ...(first.adapter && { adapter: first.adapter }),
      }),
    });
    if (modelVersion === undefined) throw new Error('no model version');
    expect(await faulty.process.exited).toEqual<ProcessExit>({ code: null, signal: 'SIGKILL' });
    await outboxDrained();
    registry.close();

    const records = await newRecords(
      (read) => modelVersionEvents(read, modelVersion.modelVersionId).length === 2,
    );
    const copies = new Map<string, number>();
    for (const { eventId } of records) copies.set(eventId, (copies.get(eventId) ?? 0) + 1);
    expect([...copies.values()]).toEqual([2, 2]);
    expect(modelVersionEvents(records, modelVersion.modelVersionId)).toHaveLength(2);
    const audits = records
      .map((record) => record.message)
      .filter((message) => isMessage(message, AuditEventSchema));
    expect(audits.map((event) => event.entry?.resourceId)).toEqual([
      modelVersion.modelVersionId,
      modelVersion.modelVersionId,
    ]);
    await Promise.all(running.splice(0).map((started) => started.process.stop()));
  }, 300_000);

  it('(c) changes that roll back leave no event: Kafka holds exactly the committed audit entries', async () => {
    const registry = clientOf(await start('c'));
    const { modelVersion } = await registeredVersion(registry, tenantId, uniqueName('task'));
    // Two promotions from the same etag race: one commits, the other rolls back.
    const outcomes = await Promise.allSettled([
      promote(registry, modelVersion, ModelStage.SHADOW, 10),
      promote(registry, modelVersion, ModelStage.CANARY, 10),
    ]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    // A stale etag fails inside its transaction.
    await expect(promote(registry, modelVersion, ModelStage.CANARY, 30)).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
    const { modelVersion: stored } = await registry.getModelVersion({
      tenantId,
      modelVersionId: modelVersion.modelVersionId,
    });
    registry.close();
    await outboxDrained();

    const entries = await database.query<{ audit_entry_id: string }[]>(
      'SELECT audit_entry_id FROM audit_entry',
    );
    const committed = entries.map((entry) => entry.audit_entry_id);
    const records = await newRecords(
      (read) => modelVersionEvents(read, modelVersion.modelVersionId).length === 2,
    );
    const events = modelVersionEvents(records, modelVersion.modelVersionId);
    expect(events.map((event) => event.kind.case)).toEqual(['registered', 'promoted']);
    const [, promoted] = events;
    expect(promoted?.kind.case === 'promoted' && promoted.kind.value.toStage).toBe(stored?.stage);

    // Over the whole test: every committed audit entry reached Kafka, and no other did.
    const published = everything
      .map((record) => record.message)
      .filter((message) => isMessage(message, AuditEventSchema))
      .map((event) => event.entry?.auditEntryId ?? '');
    expect([...new Set(published)].sort()).toEqual([...committed].sort());
  }, 300_000);
});
