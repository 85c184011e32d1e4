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
 * offset + 1 before the next record of that partition is delivered; rejecting leaves it
 * uncommitted, and the driver delivers it again from the last committed offset.
 */
export type Deliver = (record: IncomingRecord) => Promise<void>;

export interface ConsumerOptions {
  readonly group: string;
  readonly topics: readonly string[];
  /** How many partitions are handled at the same time by this consumer. */
  readonly concurrency: number;
  readonly deliver: Deliver;
}

export interface DriverConsumer {
  /** Joins the group; a group without committed offsets starts at the earliest record. */
  start(): Promise<void>;
  /** Stops fetching, waits for the deliveries in flight, then leaves the group and disconnects. */
  stop(): Promise<void>;
  /** Whether the consumer is a member of its group and receiving records. */
  readonly connected: boolean;
}
