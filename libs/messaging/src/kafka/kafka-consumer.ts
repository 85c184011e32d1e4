import type { Consumer, Kafka, KafkaMessage, RetryOptions } from 'kafkajs';
import type { Logger } from '@understudy/telemetry';
import type { ConsumerOptions, DriverConsumer, IncomingRecord } from '../driver.js';
import { unavailable } from './kafka-producer.js';

export interface KafkaConsumerSettings {
  readonly retry: RetryOptions;
  readonly sessionTimeoutMs: number;
  readonly logger: Logger;
}

function incoming(topic: string, partition: number, message: KafkaMessage): IncomingRecord {
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
  };
}

/**
 * A kafkajs consumer without auto-commit: each record's offset + 1 is committed right after its
 * delivery resolved, and a record whose delivery failed is fetched again from that position.
 */
export class KafkaConsumer implements DriverConsumer {
  private readonly consumer: Consumer;
  private joined = false;
  private stopping = false;

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
    const { GROUP_JOIN, CRASH, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, () => {
      this.joined = true;
    });
    this.consumer.on(CRASH, ({ payload }) => {
      this.joined = false;
      settings.logger.warn(
        { group: options.group, restart: payload.restart, error: payload.error.message },
        'Kafka consumer crashed',
      );
    });
    this.consumer.on(STOP, () => {
      this.joined = false;
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
              await this.options.deliver(incoming(batch.topic, batch.partition, message));
            } catch (error) {
              // Left uncommitted for the next member of the group.
              if (this.stopping) return;
              // kafkajs fetches it again after a pause, and restarts the consumer after many.
              throw unavailable(
                `delivering ${batch.topic}/${batch.partition}@${message.offset}`,
                error,
              );
            }
            const offset = (BigInt(message.offset) + 1n).toString();
            await payload.commitOffsetsIfNecessary({
              topics: [
                { topic: batch.topic, partitions: [{ partition: batch.partition, offset }] },
              ],
            });
            payload.resolveOffset(message.offset);
            await payload.heartbeat();
          }
        },
      });
    } catch (error) {
      throw unavailable(`starting consumer group ${this.options.group}`, error);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect();
  }
}
