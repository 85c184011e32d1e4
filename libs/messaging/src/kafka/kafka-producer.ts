import { Partitioners, type Kafka, type Message, type Producer, type RetryOptions } from 'kafkajs';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { DriverProducer, OutgoingRecord } from '../driver.js';

const buffer = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const headerValue = (value: string | Uint8Array): string | Buffer =>
  typeof value === 'string' ? value : buffer(value);

/**
 * Bytes of records in one produce request. The broker refuses a partition's batch over
 * `message.max.bytes` (1 MiB by default) whatever a topic allows, and the records of one request
 * may all land on one partition; a single larger record is sent alone, which the topics'
 * `max.message.bytes` (`maxRecordBytes`) allows.
 */
export const produceBudgetBytes = 900 * 1024;

/** The largest record batch the platform's topics accept: a record made from the largest export. */
export const maxRecordBytes = 16 * 1024 * 1024;

const sizeOf = ({ key, value, headers }: OutgoingRecord): number =>
  (key?.length ?? 0) +
  (value?.byteLength ?? 0) +
  Object.entries(headers).reduce((sum, [name, header]) => sum + name.length + header.length, 0);

/** Consecutive runs of records of at most `budget` bytes; a larger record makes a run alone. */
export function* chunks(
  records: readonly OutgoingRecord[],
  budget: number,
): Generator<readonly OutgoingRecord[]> {
  let chunk: OutgoingRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = sizeOf(record);
    if (chunk.length > 0 && bytes + size > budget) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(record);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

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

  /**
   * Sends the records in produce requests of at most `produceBudgetBytes` (a larger record goes
   * alone), one after the other, so that order holds. Resolves once all are acknowledged; on
   * failure the requests sent before it stay written, and a retry sends them again (consumers
   * dedupe by event id, as they must after any producer retry).
   */
  async send(records: readonly OutgoingRecord[]): Promise<void> {
    for (const chunk of chunks(records, produceBudgetBytes)) await this.sendChunk(chunk);
  }

  private async sendChunk(records: readonly OutgoingRecord[]): Promise<void> {
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
