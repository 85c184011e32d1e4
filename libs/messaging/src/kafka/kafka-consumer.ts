import type { Consumer, IMemberAssignment, Kafka, KafkaMessage, RetryOptions } from 'kafkajs';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { Logger } from '@understudy/telemetry';
import type {
  CommitOffset,
  ConsumerOptions,
  DriverConsumer,
  IncomingRecord,
  TopicPartition,
} from '../driver.js';
import { unavailable } from './kafka-producer.js';

export interface KafkaConsumerSettings {
  readonly retry: RetryOptions;
  readonly sessionTimeoutMs: number;
  readonly logger: Logger;
}

function incoming(
  topic: string,
  partition: number,
  highWatermark: string,
  message: KafkaMessage,
): IncomingRecord {
  const headers: Record<string, Uint8Array> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    // Repeated headers arrive as arrays; the last one wins, as with a map.
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) headers[name] = typeof last === 'string' ? Buffer.from(last) : last;
  }
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers,
    timestamp: message.timestamp,
    highWatermark,
  };
}

const partitionKey = ({ topic, partition }: TopicPartition): string => `${topic}\u0000${partition}`;

/**
 * A kafkajs consumer without auto-commit: each record's offset + 1 is committed right after its
 * delivery resolved ('manual' mode: when commit() says so), and a record whose delivery failed
 * is fetched again from that position.
 */
export class KafkaConsumer implements DriverConsumer {
  private readonly consumer: Consumer;
  private readonly manual: boolean;
  private joined = false;
  private stopping = false;
  /** This member's partitions, by partitionKey(); empty while a rebalance is under way. */
  private assignment = new Set<string>();

  constructor(
    kafka: Kafka,
    private readonly options: ConsumerOptions,
    private readonly settings: KafkaConsumerSettings,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.group,
      allowAutoTopicCreation: false,
      sessionTimeout: settings.sessionTimeoutMs,
      // Bounds how long stop() waits for an idle fetch to return.
      maxWaitTimeInMs: 500,
      retry: { ...settings.retry, restartOnFailure: () => Promise.resolve(true) },
    });
    this.manual = options.commits === 'manual';
    const { GROUP_JOIN, REBALANCING, CRASH, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, ({ payload }) => {
      this.joined = true;
      this.assign(assignedPartitions(payload.memberAssignment));
    });
    // Until the new assignment arrives, a commit could land on a partition that moved away.
    this.consumer.on(REBALANCING, () => {
      this.revoke();
    });
    this.consumer.on(CRASH, ({ payload }) => {
      this.joined = false;
      this.revoke();
      settings.logger.warn(
        { group: options.group, restart: payload.restart, error: payload.error.message },
        'Kafka consumer crashed',
      );
    });
    this.consumer.on(STOP, () => {
      this.joined = false;
      this.revoke();
    });
  }

  get connected(): boolean {
    return this.joined;
  }

  async start(): Promise<void> {
    this.stopping = false;
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: true });
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.concurrency,
        // eachBatch rather than eachMessage: kafkajs' consumer.commitOffsets() silently skips
        // the commit once stop() began, which would redeliver records finished while draining.
        eachBatch: async (payload) => {
          const { batch } = payload;
          for (const message of batch.messages) {
            if (!payload.isRunning() || payload.isStale()) return;
            try {
              await this.options.deliver(
                incoming(batch.topic, batch.partition, batch.highWatermark, message),
              );
            } catch (error) {
              // Left uncommitted for the next member of the group.
              if (this.stopping) return;
              // kafkajs fetches it again after a pause, and restarts the consumer after many.
              throw unavailable(
                `delivering ${batch.topic}/${batch.partition}@${message.offset}`,
                error,
              );
            }
            if (!this.manual) {
              const offset = (BigInt(message.offset) + 1n).toString();
              await payload.commitOffsetsIfNecessary({
                topics: [
                  { topic: batch.topic, partitions: [{ partition: batch.partition, offset }] },
                ],
              });
            }
            // Moves the fetch position only; a rebalance or restart rewinds to the commit.
            payload.resolveOffset(message.offset);
            await payload.heartbeat();
          }
        },
      });
    } catch (error) {
      throw unavailable(`starting consumer group ${this.options.group}`, error);
    }
  }

  /**
   * Commits through consumer.commitOffsets(), which works outside eachBatch while the consumer
   * runs (kafkajs no-ops it once stop() began; revoke() has emptied the assignment by then).
   * The assignment filter keeps a member from committing partitions another member now owns.
   */
  async commit(offsets: readonly CommitOffset[]): Promise<void> {
    if (!this.manual) {
      throw new UnderstudyError(ErrorCode.FailedPrecondition, "commit() needs commits: 'manual'");
    }
    const owned = offsets.filter((offset) => this.assignment.has(partitionKey(offset)));
    if (owned.length === 0) return;
    try {
      await this.consumer.commitOffsets(
        owned.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      );
    } catch (error) {
      throw unavailable(`committing offsets of group ${this.options.group}`, error);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.revoke();
    await this.consumer.disconnect();
  }

  private assign(partitions: readonly TopicPartition[]): void {
    this.assignment = new Set(partitions.map(partitionKey));
    this.options.onAssignment?.(partitions);
  }

  /** Forgets the assignment, telling the owner once. */
  private revoke(): void {
    if (this.assignment.size === 0) return;
    this.assign([]);
  }
}

function assignedPartitions(assignment: IMemberAssignment): TopicPartition[] {
  return Object.entries(assignment).flatMap(([topic, partitions]) =>
    partitions.map((partition) => ({ topic, partition })),
  );
}
