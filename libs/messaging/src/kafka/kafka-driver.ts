import { Kafka, logLevel, type RetryOptions, type SASLOptions } from 'kafkajs';
import { silentLogger, type Logger } from '@understudy/telemetry';
import type {
  ConsumerOptions,
  DriverConsumer,
  DriverProducer,
  MessagingDriver,
} from '../driver.js';
import type { TopicConfig } from '../topic.js';
import { KafkaConsumer } from './kafka-consumer.js';
import { kafkaLogCreator } from './kafka-logger.js';
import { KafkaProducer, maxRecordBytes, unavailable } from './kafka-producer.js';

export interface KafkaDriverOptions {
  readonly brokers: readonly string[];
  /** Prefix of the client ids the broker sees, e.g. the service name. */
  readonly clientId: string;
  readonly ssl?: boolean;
  readonly sasl?: SASLOptions;
  readonly logger?: Logger;
  /** Replicas of the topics ensureTopics() creates; -1 (the broker's default) unless given. */
  readonly replicationFactor?: number;
  /** A consumer that sends no heartbeat for this long leaves its group; 30 s by default. */
  readonly sessionTimeoutMs?: number;
  /**
   * How often a request is retried, with exponential backoff from 300 ms up to 30 s per pause;
   * 10 by default, about two minutes in all, so a publish outlives a broker restart.
   */
  readonly retries?: number;
}

/** The messaging driver for Kafka, on kafkajs (kept behind MessagingDriver: kafkajs is unmaintained). */
export class KafkaDriver implements MessagingDriver {
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private readonly retry: RetryOptions;
  private readonly replicationFactor: number;
  private readonly sessionTimeoutMs: number;

  constructor(options: KafkaDriverOptions) {
    this.logger = options.logger ?? silentLogger;
    this.retry = { retries: options.retries ?? 10, initialRetryTime: 300, maxRetryTime: 30_000 };
    this.replicationFactor = options.replicationFactor ?? -1;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
    this.kafka = new Kafka({
      brokers: [...options.brokers],
      clientId: options.clientId,
      ...(options.ssl !== undefined && { ssl: options.ssl }),
      ...(options.sasl !== undefined && { sasl: options.sasl }),
      retry: this.retry,
      logLevel: logLevel.INFO,
      logCreator: kafkaLogCreator(this.logger),
    });
  }

  async ensureTopics(topics: readonly TopicConfig[]): Promise<void> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((topic) => !existing.has(topic.name));
      if (missing.length === 0) return;
      // False means another process created them first, which is just as good.
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic: topic.name,
          numPartitions: topic.partitions,
          replicationFactor: this.replicationFactor,
          configEntries: [
            { name: 'retention.ms', value: String(topic.retentionMs) },
            { name: 'cleanup.policy', value: topic.cleanupPolicy },
            { name: 'max.message.bytes', value: String(maxRecordBytes) },
          ],
        })),
      });
      this.logger.info({ topics: missing.map((topic) => topic.name) }, 'Kafka topics created');
    } catch (error) {
      throw unavailable('creating topics', error);
    } finally {
      await admin.disconnect();
    }
  }

  createProducer(): DriverProducer {
    return new KafkaProducer(this.kafka, this.retry);
  }

  createConsumer(options: ConsumerOptions): DriverConsumer {
    return new KafkaConsumer(this.kafka, options, {
      retry: this.retry,
      sessionTimeoutMs: this.sessionTimeoutMs,
      logger: this.logger,
    });
  }
}
