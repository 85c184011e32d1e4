import { fromBinary } from '@bufbuild/protobuf';
import { CallCapturedSchema } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import {
  ensureTopics,
  topics,
  type DriverConsumer,
  type IncomingRecord,
  type MessagingDriver,
  type Topic,
  type TopicPartition,
} from '@understudy/messaging';
import type { ObjectStore } from '@understudy/storage';
import { silentLogger, type Logger } from '@understudy/telemetry';
import { createInstruments, type Instruments } from './instruments.js';
import {
  SEGMENT_CONTENT_TYPE,
  SegmentMetadata,
  callTenant,
  callTime,
  compressSegment,
  encodeCall,
  segmentKey,
  utcDay,
} from './segment.js';
import type { ArchiveSettings } from './settings.js';

/** The consumer group of the archive; it commits independently of every other reader. */
export const ARCHIVE_GROUP = 'collector-archive';

/** Segments of one flush uploaded at the same time: a buffer may hold many tenants and days. */
const uploadConcurrency = 8;

export interface CallArchiverOptions {
  readonly driver: MessagingDriver;
  readonly store: ObjectStore;
  readonly settings: ArchiveSettings;
  readonly logger?: Logger;
  /** `collector-archive` unless given. */
  readonly group?: string;
  /** `topics.callsCaptured` unless given. */
  readonly topic?: Topic<typeof CallCapturedSchema>;
}

export interface ArchiverHealth {
  readonly group: string;
  readonly connected: boolean;
}

type Trigger = 'calls' | 'bytes' | 'age' | 'idle' | 'stop';

interface Entry {
  readonly offset: bigint;
  /** Absent for a record that cannot be archived: the flush still covers (commits) its offset. */
  readonly call?: { readonly key: string; readonly bytes: Uint8Array };
}

/** Records of one partition read since its last commit; `first` is that commit. */
interface Batch {
  readonly first: bigint;
  /** Kafka timestamps (ms) of the first and last record. */
  readonly firstTimestamp: number;
  lastTimestamp: number;
  readonly entries: Entry[];
  bytes: number;
  /** The last record was the partition's last when it was fetched. */
  caughtUp: boolean;
  /** Wall-clock time from which an idle flush is due. */
  dueAt: number;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  batch: Batch | undefined;
  /** The flush under way or last done; deliveries wait for it before touching the batch. */
  flushing: Promise<void>;
}

interface Segment {
  readonly key: string;
  readonly calls: Uint8Array[];
  readonly firstOffset: bigint;
  lastOffset: bigint;
}

/**
 * Archives captured calls into the object store. A manual-commit consumer buffers each
 * partition's records; a buffer is flushed, one segment per (tenant, day), when it holds
 * `maxCalls` records or `maxBytes`, when its records' Kafka timestamps span `maxAgeMs`, or when
 * the partition is caught up and the buffer waited `maxAgeMs`; only once every segment is
 * stored is the end of the buffer committed.
 *
 * Idempotency: a crash (or a rebalance) between upload and commit makes the consumer resume at
 * the last commit, which is always the first offset of the unflushed buffer, so the new buffer
 * starts where the lost one did and its segments get the same keys. It is a superset of the
 * lost one: the count, byte and timestamp limits depend only on the log, so they cut at the
 * same records, and the idle flush only cuts at the log's end, which a re-read cannot reach
 * earlier. Same keys, same or more calls: rewriting replaces, never duplicates. Each segment
 * records the end of the range it covers (`end-offset`), and a write that would replace a
 * segment covering as much or more is skipped, so a slow writer that lost its partition cannot
 * shrink what the new owner wrote.
 */
export class CallArchiver {
  private readonly driver: MessagingDriver;
  private readonly store: ObjectStore;
  private readonly settings: ArchiveSettings;
  private readonly logger: Logger;
  private readonly group: string;
  private readonly topic: Topic<typeof CallCapturedSchema>;
  private readonly instruments: Instruments = createInstruments();
  /** By `topic/partition`; cleared on every assignment, since each one rewinds to the commits. */
  private readonly partitions = new Map<string, PartitionState>();
  private consumer: DriverConsumer | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Set while stop() flushes: deliveries wait for it, then leave their records unread. */
  private closing: Promise<void> | undefined;

  constructor(options: CallArchiverOptions) {
    this.driver = options.driver;
    this.store = options.store;
    this.settings = options.settings;
    this.logger = options.logger ?? silentLogger;
    this.group = options.group ?? ARCHIVE_GROUP;
    this.topic = options.topic ?? topics.callsCaptured;
  }

  /** Creates the topic when missing and joins the group; the store must be initialised. */
  async start(): Promise<void> {
    if (this.consumer !== undefined) return;
    await ensureTopics(this.driver, [this.topic]);
    this.closing = undefined;
    const consumer = this.driver.createConsumer({
      group: this.group,
      topics: [this.topic.name],
      // Flushes wait on the store: let every partition make progress meanwhile.
      concurrency: this.topic.partitions,
      commits: 'manual',
      onAssignment: (partitions) => {
        this.assigned(partitions);
      },
      deliver: (record) => this.deliver(record),
    });
    this.consumer = consumer;
    const { maxAgeMs } = this.settings;
    this.timer = setInterval(
      () => {
        this.flushIdle();
      },
      Math.max(10, Math.min(1_000, maxAgeMs / 4)),
    );
    this.timer.unref();
    try {
      await consumer.start();
    } catch (error) {
      clearInterval(this.timer);
      this.consumer = undefined;
      throw error;
    }
    this.logger.info({ group: this.group, topic: this.topic.name }, 'call archive started');
  }

  /** Flushes and commits what was read, then leaves the group. */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    clearInterval(this.timer);
    let closed = (): void => undefined;
    this.closing = new Promise((resolve) => (closed = resolve));
    try {
      // A failure here only means these records are read and written again after a restart.
      await Promise.all(
        [...this.partitions.values()].map((state) =>
          this.flush(state, 'stop').catch((error: unknown) => {
            this.logFlushFailure(state, 'stop', error);
          }),
        ),
      );
    } finally {
      closed();
    }
    await consumer.stop();
    this.consumer = undefined;
    this.partitions.clear();
    this.logger.info({ group: this.group }, 'call archive stopped');
  }

  health(): ArchiverHealth {
    return { group: this.group, connected: this.consumer?.connected ?? false };
  }

  private assigned(partitions: readonly TopicPartition[]): void {
    // Buffers of partitions kept are dropped too: the driver delivers them again from the commit.
    this.partitions.clear();
    this.logger.info(
      { group: this.group, partitions: partitions.map((p) => p.partition) },
      'call archive assignment',
    );
  }

  private async deliver(record: IncomingRecord): Promise<void> {
    const id = `${record.topic}/${record.partition}`;
    let state = this.partitions.get(id);
    if (state === undefined) {
      state = {
        topic: record.topic,
        partition: record.partition,
        batch: undefined,
        flushing: Promise.resolve(),
      };
      this.partitions.set(id, state);
    }
    await state.flushing.catch(() => undefined);
    if (this.closing !== undefined) {
      // Not buffered, hence not committed: the next owner reads it.
      await this.closing;
      return;
    }
    // Read under an assignment that has since ended: the new one delivers it again.
    if (this.partitions.get(id) !== state) return;
    this.add(state, record);
    const trigger = this.triggered(state.batch);
    if (trigger !== undefined) await this.flush(state, trigger);
  }

  private add(state: PartitionState, record: IncomingRecord): void {
    const offset = BigInt(record.offset);
    let batch = state.batch;
    const last = batch?.entries.at(-1);
    if (batch !== undefined && last !== undefined && offset <= last.offset) {
      // Delivered again (a failed flush): everything from here on is read again.
      const kept = batch.entries.filter((entry) => entry.offset < offset);
      batch = kept.length === 0 ? undefined : { ...batch, entries: kept, bytes: sizeOf(kept) };
    }
    batch ??= {
      first: offset,
      firstTimestamp: Number(record.timestamp),
      lastTimestamp: Number(record.timestamp),
      entries: [],
      bytes: 0,
      caughtUp: false,
      dueAt: Date.now() + this.settings.maxAgeMs,
    };
    const entry = this.entry(record, offset, batch.first);
    batch.entries.push(entry);
    batch.bytes += entry.call?.bytes.length ?? 0;
    batch.lastTimestamp = Number(record.timestamp);
    batch.caughtUp = offset + 1n >= BigInt(record.highWatermark);
    state.batch = batch;
  }

  private entry(record: IncomingRecord, offset: bigint, firstOffset: bigint): Entry {
    let reason: string;
    try {
      if (record.value === null) throw new Error('the record has no value');
      const event = fromBinary(CallCapturedSchema, record.value);
      const tenantId = callTenant(event);
      if (tenantId === '') throw new Error('the call names no tenant');
      const day = utcDay(callTime(event) ?? new Date(Number(record.timestamp)));
      const location = { tenantId, day, topic: record.topic, partition: record.partition };
      return {
        offset,
        call: { key: segmentKey({ ...location, firstOffset }), bytes: encodeCall(event) },
      };
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    this.instruments.rejected.add(1);
    this.logger.error(
      { topic: record.topic, partition: record.partition, offset: record.offset, error: reason },
      'record cannot be archived, skipped',
    );
    return { offset };
  }

  /** Limits that depend only on the records read, so a re-read cuts at the same record. */
  private triggered(batch: Batch | undefined): Trigger | undefined {
    if (batch === undefined) return undefined;
    if (batch.entries.length >= this.settings.maxCalls) return 'calls';
    if (batch.bytes >= this.settings.maxBytes) return 'bytes';
    if (batch.lastTimestamp - batch.firstTimestamp >= this.settings.maxAgeMs) return 'age';
    return undefined;
  }

  private flushIdle(): void {
    const now = Date.now();
    for (const state of this.partitions.values()) {
      const batch = state.batch;
      if (batch === undefined || !batch.caughtUp || now < batch.dueAt) continue;
      // Also paces retries after a failure.
      batch.dueAt = now + this.settings.maxAgeMs;
      this.flush(state, 'idle').catch((error: unknown) => {
        this.logFlushFailure(state, 'idle', error);
      });
    }
  }

  /** Queues a flush of the partition's batch behind the one under way, if any. */
  private flush(state: PartitionState, trigger: Trigger): Promise<void> {
    const run = state.flushing.catch(() => undefined).then(() => this.write(state, trigger));
    state.flushing = run;
    return run;
  }

  private async write(state: PartitionState, trigger: Trigger): Promise<void> {
    const batch = state.batch;
    const last = batch?.entries.at(-1);
    if (batch === undefined || last === undefined) return;
    const consumer = this.consumer;
    if (consumer === undefined) return;
    const end = last.offset + 1n;
    const attributes = { 'messaging.destination.partition.id': String(state.partition), trigger };
    const started = performance.now();
    try {
      const segments = new Map<string, Segment>();
      for (const { offset, call } of batch.entries) {
        if (call === undefined) continue;
        const segment = segments.get(call.key);
        if (segment === undefined) {
          segments.set(call.key, {
            key: call.key,
            calls: [call.bytes],
            firstOffset: offset,
            lastOffset: offset,
          });
        } else {
          segment.calls.push(call.bytes);
          segment.lastOffset = offset;
        }
      }
      const queue = segments.values();
      const uploader = async (): Promise<void> => {
        for (const segment of queue) await this.upload(segment, end);
      };
      await Promise.all(Array.from({ length: uploadConcurrency }, uploader));
      await consumer.commit([
        { topic: state.topic, partition: state.partition, offset: end.toString() },
      ]);
      if (state.batch === batch) state.batch = undefined;
      this.instruments.flushDuration.record((performance.now() - started) / 1000, attributes);
      this.logger.debug(
        { partition: state.partition, trigger, records: batch.entries.length, end: end.toString() },
        'call archive flushed',
      );
    } catch (error) {
      const failure = UnderstudyError.from(error);
      this.instruments.flushDuration.record((performance.now() - started) / 1000, {
        ...attributes,
        'error.type': failure.code,
      });
      throw failure;
    }
  }

  private async upload(segment: Segment, end: bigint): Promise<void> {
    if (await this.covered(segment.key, end)) return;
    const body = await compressSegment(segment.calls);
    const stored = await this.store.put(segment.key, body, {
      contentType: SEGMENT_CONTENT_TYPE,
      metadata: {
        [SegmentMetadata.Count]: String(segment.calls.length),
        [SegmentMetadata.FirstOffset]: segment.firstOffset.toString(),
        [SegmentMetadata.LastOffset]: segment.lastOffset.toString(),
        [SegmentMetadata.EndOffset]: end.toString(),
      },
    });
    this.instruments.calls.add(segment.calls.length);
    this.instruments.bytes.add(stored.size);
    this.instruments.segments.add(1);
  }

  /** Whether a segment under `key` already holds the range up to `end` or further. */
  private async covered(key: string, end: bigint): Promise<boolean> {
    try {
      const covers = (await this.store.stat(key)).metadata[SegmentMetadata.EndOffset] ?? '';
      return /^\d+$/.test(covers) && BigInt(covers) >= end;
    } catch (error) {
      if (error instanceof UnderstudyError && error.code === ErrorCode.NotFound) return false;
      throw error;
    }
  }

  private logFlushFailure(state: PartitionState, trigger: Trigger, error: unknown): void {
    const failure = UnderstudyError.from(error);
    this.logger.warn(
      { partition: state.partition, trigger, code: failure.code, error: failure.message },
      'call archive flush failed; the records stay uncommitted',
    );
  }
}

function sizeOf(entries: readonly Entry[]): number {
  return entries.reduce((sum, entry) => sum + (entry.call?.bytes.length ?? 0), 0);
}
