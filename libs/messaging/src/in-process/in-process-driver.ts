import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type {
  CommitOffset,
  ConsumerOptions,
  DriverConsumer,
  DriverProducer,
  MessagingDriver,
  OutgoingRecord,
  TopicPartition,
} from '../driver.js';
import type { TopicConfig } from '../topic.js';
import { partitionOf } from './murmur2.js';

export interface InProcessDriverOptions {
  /** Pause before a record whose delivery failed is delivered again; 500 ms by default. */
  readonly redeliveryDelayMs?: number;
}

interface StoredRecord {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: Readonly<Record<string, Uint8Array>>;
  readonly timestamp: number;
}

const encoder = new TextEncoder();
const bytes = (value: string | Uint8Array): Uint8Array =>
  typeof value === 'string' ? encoder.encode(value) : new Uint8Array(value);
const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** Wakes every waiter at once; waiters re-check their condition, so extra wake-ups are harmless. */
class Signal {
  private waiters: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

class Slots {
  private readonly queue: (() => void)[] = [];

  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.queue.push(resolve));
  }

  release(): void {
    const next = this.queue.shift();
    if (next === undefined) this.free += 1;
    else next();
  }
}

class PartitionLog {
  private readonly records: StoredRecord[] = [];
  /** The offset of the oldest record still held; older ones expired with the retention time. */
  startOffset = 0;

  append(record: StoredRecord): void {
    this.records.push(record);
  }

  at(offset: number): StoredRecord | undefined {
    return this.records[offset - this.startOffset];
  }

  /** The offset the next appended record gets. */
  get endOffset(): number {
    return this.startOffset + this.records.length;
  }

  expire(before: number): void {
    let count = 0;
    while (count < this.records.length && (this.records[count]?.timestamp ?? before) < before) {
      count += 1;
    }
    this.records.splice(0, count);
    this.startOffset += count;
  }
}

class TopicLog {
  readonly partitions: PartitionLog[];
  private roundRobin = 0;

  constructor(readonly config: TopicConfig) {
    this.partitions = Array.from({ length: config.partitions }, () => new PartitionLog());
  }

  partitionFor(key: Uint8Array | null): number {
    if (key !== null) return partitionOf(key, this.partitions.length);
    this.roundRobin = (this.roundRobin + 1) % this.partitions.length;
    return this.roundRobin;
  }

  log(partition: number): PartitionLog {
    const log = this.partitions[partition];
    if (log === undefined) throw new RangeError(`no partition ${partition} in ${this.config.name}`);
    return log;
  }
}

/** Committed offsets and members of one consumer group; outlives its members, as in Kafka. */
class Group {
  readonly committed = new Map<string, number>();
  readonly members: InProcessConsumer[] = [];
  private readonly owners = new Map<string, InProcessConsumer>();
  private readonly leases = new Map<string, Promise<void>>();

  ownerOf(key: string): InProcessConsumer | undefined {
    return this.owners.get(key);
  }

  /** Waits until the previous holder of a partition let go, so one record is never handled twice at once. */
  async lease(key: string): Promise<() => void> {
    const previous = this.leases.get(key);
    let release = (): void => undefined;
    this.leases.set(key, new Promise((resolve) => (release = resolve)));
    await previous;
    return release;
  }

  /** Spreads the partitions of the subscribed topics over the members, round-robin. */
  rebalance(topics: ReadonlyMap<string, TopicLog>): void {
    this.owners.clear();
    const subscribed = [...new Set(this.members.flatMap((member) => member.topics))].sort();
    let turn = 0;
    for (const name of subscribed) {
      const candidates = this.members.filter((member) => member.topics.includes(name));
      const partitions = topics.get(name)?.partitions.length ?? 0;
      for (let partition = 0; partition < partitions; partition += 1) {
        const owner = candidates[turn % candidates.length];
        turn += 1;
        if (owner !== undefined) this.owners.set(partitionKey(name, partition), owner);
      }
    }
    for (const member of this.members) member.assigned();
  }
}

class InProcessProducer implements DriverProducer {
  private isConnected = false;

  constructor(private readonly broker: Broker) {}

  get connected(): boolean {
    return this.isConnected;
  }

  connect(): Promise<void> {
    this.isConnected = true;
    return Promise.resolve();
  }

  send(records: readonly OutgoingRecord[]): Promise<void> {
    if (!this.isConnected) {
      return Promise.reject(
        new UnderstudyError(ErrorCode.FailedPrecondition, 'the producer is not connected'),
      );
    }
    try {
      this.broker.append(records);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  disconnect(): Promise<void> {
    this.isConnected = false;
    return Promise.resolve();
  }
}

class InProcessConsumer implements DriverConsumer {
  readonly topics: readonly string[];
  private running = false;
  private readonly workers = new Map<string, Promise<void>>();
  private readonly slots: Slots;
  private stopping = new AbortController();
  private readonly manual: boolean;
  /** Manual mode: the next offset to deliver per partition, ahead of the committed one. */
  private readonly positions = new Map<string, number>();
  /** Counts assignments: a delivery read under an older one must not move a position. */
  private generation = 0;

  constructor(
    private readonly broker: Broker,
    private readonly group: Group,
    private readonly options: ConsumerOptions,
  ) {
    this.topics = [...options.topics];
    this.slots = new Slots(options.concurrency);
    this.manual = options.commits === 'manual';
  }

  get connected(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    if (this.running) return;
    for (const topic of this.topics) this.broker.topic(topic);
    this.running = true;
    this.stopping = new AbortController();
    this.group.members.push(this);
    this.broker.rebalance(this.group);
    await Promise.resolve();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.options.onAssignment?.([]);
    this.stopping.abort();
    this.broker.changed.notify();
    await Promise.all(this.workers.values());
    this.group.members.splice(this.group.members.indexOf(this), 1);
    this.broker.rebalance(this.group);
  }

  /**
   * Starts a worker for every partition the group gave this member and that has none yet. As
   * after a Kafka rebalance, every partition then resumes from its committed offset.
   */
  assigned(): void {
    if (!this.running) return;
    this.generation += 1;
    this.positions.clear();
    const assignment: TopicPartition[] = [];
    for (const name of this.topics) {
      const topic = this.broker.topic(name);
      topic.partitions.forEach((_, partition) => {
        const key = partitionKey(name, partition);
        if (this.group.ownerOf(key) !== this) return;
        assignment.push({ topic: name, partition });
        if (!this.workers.has(key)) this.workers.set(key, this.work(topic, partition, key));
      });
    }
    this.options.onAssignment?.(assignment);
  }

  commit(offsets: readonly CommitOffset[]): Promise<void> {
    if (!this.manual) {
      return Promise.reject(
        new UnderstudyError(ErrorCode.FailedPrecondition, "commit() needs commits: 'manual'"),
      );
    }
    for (const { topic, partition, offset } of offsets) {
      const key = partitionKey(topic, partition);
      if (this.owns(key)) this.group.committed.set(key, Number(offset));
    }
    return Promise.resolve();
  }

  private async work(topic: TopicLog, partition: number, key: string): Promise<void> {
    const release = await this.group.lease(key);
    try {
      const log = topic.log(partition);
      while (this.owns(key)) {
        const generation = this.generation;
        const next = this.positions.get(key) ?? this.group.committed.get(key) ?? 0;
        const offset = Math.max(next, log.startOffset);
        const record = log.at(offset);
        if (record === undefined) {
          await this.broker.changed.wait();
          continue;
        }
        const delivered = await this.deliver(
          { topic: topic.config.name, partition, offset, highWatermark: log.endOffset },
          generation,
          record,
        );
        if (!delivered && generation === this.generation) {
          await sleep(this.broker.redeliveryDelayMs, undefined, {
            signal: this.stopping.signal,
          }).catch(() => undefined);
        }
      }
    } finally {
      this.workers.delete(key);
      release();
    }
  }

  private owns(key: string): boolean {
    return this.running && this.group.ownerOf(key) === this;
  }

  /** False when the record was not delivered, or its delivery failed: it stays uncommitted. */
  private async deliver(
    at: { topic: string; partition: number; offset: number; highWatermark: number },
    generation: number,
    record: StoredRecord,
  ): Promise<boolean> {
    const { topic, partition, offset } = at;
    const key = partitionKey(topic, partition);
    await this.slots.acquire();
    try {
      // Waiting for a slot can outlast a stop or a rebalance, which rewinds the partition.
      if (!this.owns(key) || generation !== this.generation) return false;
      await this.options.deliver({
        topic,
        partition,
        offset: String(offset),
        key: record.key,
        value: record.value,
        headers: record.headers,
        timestamp: String(record.timestamp),
        highWatermark: String(at.highWatermark),
      });
      if (!this.manual) this.group.committed.set(key, offset + 1);
      else if (generation === this.generation) this.positions.set(key, offset + 1);
      return true;
    } catch {
      return false;
    } finally {
      this.slots.release();
    }
  }
}

/** The logs and groups one in-process driver holds; producers and consumers share it. */
class Broker {
  readonly changed = new Signal();
  private readonly topics = new Map<string, TopicLog>();
  private readonly groups = new Map<string, Group>();

  constructor(readonly redeliveryDelayMs: number) {}

  create(config: TopicConfig): void {
    if (!this.topics.has(config.name)) this.topics.set(config.name, new TopicLog(config));
  }

  group(name: string): Group {
    let group = this.groups.get(name);
    if (group === undefined) {
      group = new Group();
      this.groups.set(name, group);
    }
    return group;
  }

  topic(name: string): TopicLog {
    const topic = this.topics.get(name);
    if (topic === undefined) {
      throw new UnderstudyError(ErrorCode.NotFound, `topic "${name}" does not exist`, {
        details: { topic: name },
      });
    }
    return topic;
  }

  /** Appends all records or, when a topic is missing, none. */
  append(records: readonly OutgoingRecord[]): void {
    const now = Date.now();
    const placed = records.map((record) => ({
      topic: this.topic(record.topic),
      key: record.key === null ? null : bytes(record.key),
      record,
    }));
    for (const { topic, key, record } of placed) {
      const log = topic.log(topic.partitionFor(key));
      const headers = Object.fromEntries(
        Object.entries(record.headers).map(([name, value]) => [name, bytes(value)]),
      );
      const value = record.value === null ? null : bytes(record.value);
      log.append({ key, value, headers, timestamp: now });
      if (topic.config.retentionMs > 0) log.expire(now - topic.config.retentionMs);
    }
    this.changed.notify();
  }

  rebalance(group: Group): void {
    group.rebalance(this.topics);
    this.changed.notify();
  }
}

/**
 * A broker inside the process with Kafka's semantics: keyed partitions (Kafka's murmur2), consumer
 * groups sharing partitions, offsets committed after delivery, redelivery of what was not
 * committed, retention by time. Share one instance between every producer and consumer that
 * should see each other. Compacted topics keep every record.
 */
export class InProcessDriver implements MessagingDriver {
  private readonly broker: Broker;

  constructor(options: InProcessDriverOptions = {}) {
    this.broker = new Broker(options.redeliveryDelayMs ?? 500);
  }

  ensureTopics(topics: readonly TopicConfig[]): Promise<void> {
    for (const config of topics) this.broker.create(config);
    return Promise.resolve();
  }

  createProducer(): DriverProducer {
    return new InProcessProducer(this.broker);
  }

  createConsumer(options: ConsumerOptions): DriverConsumer {
    return new InProcessConsumer(this.broker, this.broker.group(options.group), options);
  }
}
