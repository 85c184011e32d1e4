import { create, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { AuditEventSchema, ModelVersionSchema } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import {
  Header,
  InProcessDriver,
  Messaging,
  topics,
  type DriverProducer,
  type MessagingDriver,
  type OutgoingRecord,
  type Topic,
} from '@understudy/messaging';
import { silentLogger } from '@understudy/telemetry';
import { MetricsProbe } from '@understudy/telemetry/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { eventMeta, registered, routesChanged } from '../domain/events.js';
import type { Outbox, OutboxBacklog, OutboxLease, OutboxRecord } from '../drivers/outbox.js';
import { OutboxRelay, type OutboxRelayOptions } from './outbox.relay.js';

/** The in-process broker, whose producer can be made to fail, recording what it acknowledged. */
class FlakyDriver implements MessagingDriver {
  readonly broker = new InProcessDriver();
  readonly acknowledged: OutgoingRecord[] = [];
  failing = false;

  ensureTopics: MessagingDriver['ensureTopics'] = (configs) => this.broker.ensureTopics(configs);
  createConsumer: MessagingDriver['createConsumer'] = (options) =>
    this.broker.createConsumer(options);

  createProducer(): DriverProducer {
    const producer = this.broker.createProducer();
    return {
      connect: () => producer.connect(),
      disconnect: () => producer.disconnect(),
      get connected() {
        return producer.connected;
      },
      send: async (records) => {
        if (this.failing) {
          throw new UnderstudyError(ErrorCode.Unavailable, 'Kafka: publishing failed (test)');
        }
        await producer.send(records);
        this.acknowledged.push(...records);
      },
    };
  }

  get eventIds(): string[] {
    return this.acknowledged.map((record) => String(record.headers[Header.EventId]));
  }
}

/** The outbox row `id` that holds `message` for `topic`, as the change log writes it. */
function recordOf<Desc extends DescMessage>(
  id: string,
  topic: Topic<Desc>,
  message: MessageShape<Desc>,
): OutboxRecord {
  return {
    id,
    topic: topic.name,
    key: topic.key.of(message),
    eventId: topic.eventId?.(message) ?? '',
    payload: toBinary(topic.schema, message),
    createdAt: new Date(),
  };
}

/** The outbox table in memory: one lease at a time, as the advisory lock allows. */
class MemoryOutbox implements Outbox {
  rows: OutboxRecord[] = [];
  leases = 0;
  /** Must stay empty: rows deleted before Kafka acknowledged them. */
  readonly deletedUnpublished: string[] = [];
  private nextId = 1;
  private held = false;
  private wake: () => void = () => undefined;
  private loseLease: (error: Error) => void = () => undefined;

  constructor(private readonly driver: FlakyDriver) {}

  add<Desc extends DescMessage>(topic: Topic<Desc>, message: MessageShape<Desc>): string {
    const record = recordOf(String(this.nextId++), topic, message);
    this.addRecord(record);
    return record.eventId;
  }

  /** Rows of another id order than insertion (a smaller id committed later), or undecodable. */
  addRecord(record: OutboxRecord): void {
    this.rows.push(record);
    this.wake();
  }

  lose(): void {
    this.loseLease(new Error('connection terminated (test)'));
  }

  lead(wake: () => void): Promise<OutboxLease | undefined> {
    if (this.held) return Promise.resolve(undefined);
    this.held = true;
    this.leases += 1;
    this.wake = wake;
    let lost = false;
    const alive = () => {
      if (lost) throw new Error('the session is gone');
    };
    return Promise.resolve({
      pending: (limit) => {
        alive();
        return Promise.resolve(
          [...this.rows].sort((a, b) => Number(a.id) - Number(b.id)).slice(0, limit),
        );
      },
      remove: (ids) => {
        alive();
        const published = new Set(this.driver.eventIds);
        for (const row of this.rows.filter((candidate) => ids.includes(candidate.id))) {
          if (!published.has(row.eventId)) this.deletedUnpublished.push(row.eventId);
        }
        this.rows = this.rows.filter((row) => !ids.includes(row.id));
        return Promise.resolve();
      },
      lost: new Promise<Error>((resolve) => {
        this.loseLease = (error) => {
          lost = true;
          resolve(error);
        };
      }),
      release: () => {
        this.held = false;
        this.wake = () => undefined;
        return Promise.resolve();
      },
    });
  }

  backlog(): Promise<OutboxBacklog> {
    return Promise.resolve({ rows: this.rows.length, oldestAt: this.rows[0]?.createdAt });
  }
}

const version = (taskId: string, n: number) =>
  create(ModelVersionSchema, {
    tenantId: 'tenant-a',
    taskId,
    modelVersionId: `${taskId}-v${String(n)}`,
    version: n,
  });

const options: OutboxRelayOptions = { batchSize: 3, pollMs: 20, drainMs: 2_000 };
let probe: MetricsProbe;
let driver: FlakyDriver;
let messaging: Messaging;
let outbox: MemoryOutbox;
const relays: OutboxRelay[] = [];

function startRelay(extra: Partial<OutboxRelayOptions> = {}): OutboxRelay {
  const relay = new OutboxRelay(outbox, messaging, { ...options, ...extra }, silentLogger);
  relay.onModuleInit();
  relays.push(relay);
  return relay;
}

beforeEach(async () => {
  probe = MetricsProbe.install('understudy.model-registry');
  driver = new FlakyDriver();
  messaging = new Messaging({
    driver,
    producerName: 'model-registry',
    topics: [topics.modelVersions, topics.routes, topics.audit],
  });
  await messaging.connect();
  outbox = new MemoryOutbox(driver);
});

afterEach(async () => {
  await Promise.all(relays.splice(0).map((relay) => relay.beforeApplicationShutdown()));
  expect(outbox.deletedUnpublished).toEqual([]);
  await messaging.stop();
  probe.uninstall();
});

describe('OutboxRelay', () => {
  it('publishes in id order, each key in its order, and deletes only what Kafka acknowledged', async () => {
    const written = [
      outbox.add(topics.modelVersions, registered(version('task-1', 1))),
      outbox.add(topics.modelVersions, registered(version('task-2', 1))),
      outbox.add(topics.routes, routesChanged('tenant-a', 1n, [])),
      outbox.add(topics.modelVersions, registered(version('task-1', 2))),
      outbox.add(topics.routes, routesChanged('tenant-a', 2n, [])),
      outbox.add(topics.modelVersions, registered(version('task-1', 3))),
      outbox.add(topics.modelVersions, registered(version('task-2', 2))),
    ];
    const seenAtHook: number[] = [];
    startRelay({ afterPublish: () => seenAtHook.push(outbox.rows.length) });

    await vi.waitFor(() => {
      expect(outbox.rows).toEqual([]);
    });
    expect(driver.eventIds).toEqual(written);
    const keysOf = (topic: string) =>
      driver.acknowledged.filter((record) => record.topic === topic).map((record) => record.key);
    expect(keysOf(topics.modelVersions.name)).toEqual([
      'task-1',
      'task-2',
      'task-1',
      'task-1',
      'task-2',
    ]);
    expect(keysOf(topics.routes.name)).toEqual(['tenant-a', 'tenant-a']);
    // The hook runs between publishing a pass (3 rows at most) and deleting it.
    expect(seenAtHook).toEqual([7, 4, 1]);
    expect(await probe.total('understudy.registry.outbox.published')).toBe(7);
    expect(await probe.total('understudy.registry.outbox.lag')).toBe(7);
  });

  it('never skips an event whose smaller id commits after a larger one', async () => {
    startRelay();
    const late = registered(version('task-1', 1));
    const early = registered(version('task-2', 1));
    outbox.addRecord(recordOf('20', topics.modelVersions, early));
    await vi.waitFor(() => {
      expect(driver.eventIds).toHaveLength(1);
    });
    outbox.addRecord(recordOf('10', topics.modelVersions, late));
    await vi.waitFor(() => {
      expect(outbox.rows).toEqual([]);
    });
    expect(driver.eventIds).toEqual([early.meta?.eventId, late.meta?.eventId]);
  });

  it('keeps every event while Kafka fails, then publishes them once, in order', async () => {
    driver.failing = true;
    const written = [
      outbox.add(topics.modelVersions, registered(version('task-1', 1))),
      outbox.add(topics.modelVersions, registered(version('task-1', 2))),
    ];
    startRelay();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(outbox.rows.map((row) => row.eventId)).toEqual(written);
    expect(driver.acknowledged).toEqual([]);

    driver.failing = false;
    await vi.waitFor(
      () => {
        expect(outbox.rows).toEqual([]);
      },
      { timeout: 5_000 },
    );
    expect(driver.eventIds).toEqual(written);
  });

  it('holds back the events after one it cannot decode, publishing those before it', async () => {
    const first = outbox.add(topics.modelVersions, registered(version('task-1', 1)));
    outbox.addRecord({
      id: '2',
      topic: 'understudy.from-a-newer-version.v1',
      key: 'task-1',
      eventId: 'newer',
      payload: new Uint8Array([1, 2, 3]),
      createdAt: new Date(),
    });
    outbox.addRecord(recordOf('3', topics.modelVersions, registered(version('task-1', 2))));
    startRelay();
    await vi.waitFor(() => {
      expect(driver.eventIds).toEqual([first]);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(outbox.rows.map((row) => row.id)).toEqual(['2', '3']);
    expect(driver.eventIds).toEqual([first]);
  });

  it('leads alone; a standby takes over when the leader loses its session', async () => {
    startRelay();
    startRelay();
    await vi.waitFor(() => {
      expect(outbox.leases).toBe(1);
    });
    outbox.lose();
    await vi.waitFor(() => {
      expect(outbox.leases).toBe(2);
    });
    const eventId = outbox.add(topics.modelVersions, registered(version('task-1', 1)));
    await vi.waitFor(() => {
      expect(driver.eventIds).toEqual([eventId]);
    });
  });

  it('drains at shutdown, and leaves the rest for the next relay when Kafka is down', async () => {
    const relay = startRelay({ pollMs: 60_000 });
    await vi.waitFor(() => {
      expect(outbox.leases).toBe(1);
    });
    const written = [
      outbox.add(topics.modelVersions, registered(version('task-1', 1))),
      outbox.add(
        topics.audit,
        create(AuditEventSchema, {
          meta: eventMeta('tenant-a'),
          entry: { tenantId: 'tenant-a', actor: 'tester', resourceId: 'task-1-v1' },
        }),
      ),
    ];
    await relay.beforeApplicationShutdown();
    expect(driver.eventIds).toEqual(written);
    expect(outbox.rows).toEqual([]);

    const standby = startRelay({ pollMs: 20 });
    await vi.waitFor(() => {
      expect(outbox.leases).toBe(2);
    });
    driver.failing = true;
    outbox.add(topics.modelVersions, registered(version('task-1', 2)));
    const started = Date.now();
    await standby.beforeApplicationShutdown();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(outbox.rows).toHaveLength(1);
  });
});
