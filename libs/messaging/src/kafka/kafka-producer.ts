import { Partitioners, type Kafka, type Message, type Producer, type RetryOptions } from 'kafkajs';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { DriverProducer, OutgoingRecord } from '../driver.js';

const buffer = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const headerValue = (value: string | Uint8Array): string | Buffer =>
  typeof value === 'string' ? value : buffer(value);

/**
 * An idempotent kafkajs producer: acks from all in-sync replicas and one request in flight per
 * broker, so the retries after a broker failure neither reorder nor duplicate records.
 */
export class KafkaProducer implements DriverProducer {
  private readonly producer: Producer;
  private isConnected = false;

  constructor(kafka: Kafka, retry: RetryOptions) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry,
    });
    this.producer.on(this.producer.events.CONNECT, () => {
      this.isConnected = true;
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.isConnected = false;
    });
  }

  get connected(): boolean {
    return this.isConnected;
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
    } catch (error) {
      throw unavailable('connecting the producer', error);
    }
  }

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, key, value, headers } of records) {
      const messages = byTopic.get(topic) ?? [];
      messages.push({
        key: key === null || typeof key === 'string' ? key : buffer(key),
        value: value === null ? null : buffer(value),
        headers: Object.fromEntries(
          Object.entries(headers).map(([name, header]) => [name, headerValue(header)]),
        ),
      });
      byTopic.set(topic, messages);
    }
    try {
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (error) {
      throw unavailable(`publishing to ${[...byTopic.keys()].join(', ')}`, error);
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}

export function unavailable(action: string, error: unknown): UnderstudyError {
  const reason = error instanceof Error ? error.message : String(error);
  return new UnderstudyError(ErrorCode.Unavailable, `Kafka: ${action} failed: ${reason}`, {
    cause: error,
  });
}
