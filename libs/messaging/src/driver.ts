import type { TopicConfig } from './topic.js';

/**
 * The small surface Understudy needs from a log-based broker. Kafka implements it for services;
 * the in-process driver implements the same semantics for the embedded mode and unit tests.
 */
export interface MessagingDriver {
  /** Creates the topics that do not exist yet; existing topics are left as they are. */
  ensureTopics(topics: readonly TopicConfig[]): Promise<void>;
  createProducer(): DriverProducer;
  createConsumer(options: ConsumerOptions): DriverConsumer;
}

export interface OutgoingRecord {
  readonly topic: string;
  /** Records with the same key go to the same partition; null spreads them round-robin. */
  readonly key: string | Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: Readonly<Record<string, string | Uint8Array>>;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface CommitOffset extends TopicPartition {
  /** The next offset to read: the last handled offset + 1. */
  readonly offset: string;
}

export interface IncomingRecord {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offsets are 64-bit, so they travel as decimal strings. */
  readonly offset: string;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: Readonly<Record<string, Uint8Array>>;
  /** Milliseconds since the epoch, as a decimal string. */
  readonly timestamp: string;
  /**
   * The partition's log-end offset when the record was fetched: a consumer that reached it has
   * caught up.
   */
  readonly highWatermark: string;
}

export interface DriverProducer {
  connect(): Promise<void>;
  /** Resolves once the broker acknowledged every record on all in-sync replicas. */
  send(records: readonly OutgoingRecord[]): Promise<void>;
  disconnect(): Promise<void>;
  readonly connected: boolean;
}

/**
 * Called once per record, one record at a time per partition. Resolving commits the record's
 * offset + 1 before the next record of that partition is delivered ('manual' mode commits
 * nothing); rejecting leaves it uncommitted, and the driver delivers it again from the last
 * committed offset ('manual' mode: the same record again, or after a restart the records from
 * the last commit).
 */
export type Deliver = (record: IncomingRecord) => Promise<void>;

export interface ConsumerOptions {
  readonly group: string;
  readonly topics: readonly string[];
  /** How many partitions are handled at the same time by this consumer. */
  readonly concurrency: number;
  readonly deliver: Deliver;
  /**
   * 'record' (the default, today's behaviour): a delivery that resolves commits its record.
   * 'manual': nothing is committed until commit() is called; a restart or rebalance redelivers
   * from the last committed offset.
   */
  readonly commits?: 'record' | 'manual';
  /**
   * Called with this member's partitions whenever its assignment changes, [] when it leaves.
   * Every call starts afresh: each partition in it is delivered from its last committed offset,
   * including partitions it already had (Kafka rewinds them on every rebalance), so state kept
   * per partition from earlier deliveries must be dropped. Also called with [] when a Kafka
   * rebalance begins, when the consumer crashes and when stop() begins. Must not throw.
   */
  readonly onAssignment?: (partitions: readonly TopicPartition[]) => void;
}

export interface DriverConsumer {
  /** Joins the group; a group without committed offsets starts at the earliest record. */
  start(): Promise<void>;
  /** Stops fetching, waits for the deliveries in flight, then leaves the group and disconnects. */
  stop(): Promise<void>;
  /**
   * Commits offsets (manual mode); offsets of partitions no longer assigned are ignored. Commits
   * made once stop() began are ignored too: commit what is done before stopping.
   */
  commit(offsets: readonly CommitOffset[]): Promise<void>;
  /** Whether the consumer is a member of its group and receiving records. */
  readonly connected: boolean;
}
