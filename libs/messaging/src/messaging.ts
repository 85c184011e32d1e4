import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { silentLogger, type Logger } from '@understudy/telemetry';
import {
  ConsumerRunner,
  type ConsumerHealth,
  type HandlerOptions,
  type MessageHandler,
} from './consumer-runner.js';
import type { MessagingDriver } from './driver.js';
import { Publisher } from './publisher.js';
import type { RetryPolicy } from './retry.js';
import { topicConfigs, type Topic } from './topic.js';

export interface MessagingOptions {
  readonly driver: MessagingDriver;
  /** The service publishing, e.g. `collector`: producer header and broker client id. */
  readonly producerName: string;
  readonly logger?: Logger;
  /** Topics created (with their dead-letter topics) at connect() when missing; handled ones always are. */
  readonly topics?: readonly Topic[];
  /** Default retry policy of handlers. */
  readonly retry?: Partial<RetryPolicy>;
  /** How long a shutdown lets handlers in flight finish; 10 s by default. */
  readonly drainTimeoutMs?: number;
  /** Partitions each consumer group handles at the same time; 1 by default. */
  readonly concurrency?: number;
}

export interface MessagingHealth {
  /** The producer is connected and every consumer group joined. */
  readonly healthy: boolean;
  readonly detail?: string;
  readonly producer: { readonly connected: boolean };
  readonly consumers: readonly ConsumerHealth[];
}

/** Creates the topics of a catalog and their dead-letter topics where missing. */
export function ensureTopics(driver: MessagingDriver, catalog: readonly Topic[]): Promise<void> {
  return driver.ensureTopics(topicConfigs(catalog));
}

/**
 * One service's messaging: a publisher and the consumer groups of its handlers, started and
 * stopped in the right order (consumers stop before the producer they dead-letter through).
 */
export class Messaging {
  readonly publisher: Publisher;
  readonly consumers: ConsumerRunner;
  private readonly driver: MessagingDriver;
  private readonly topics: readonly Topic[];
  private readonly logger: Logger;
  private connecting: Promise<void> | undefined;

  constructor(options: MessagingOptions) {
    this.driver = options.driver;
    this.topics = options.topics ?? [];
    this.logger = options.logger ?? silentLogger;
    this.publisher = new Publisher(options.driver, { producerName: options.producerName });
    this.consumers = new ConsumerRunner(options.driver, this.publisher, {
      logger: this.logger,
      ...(options.retry && { retry: options.retry }),
      ...(options.drainTimeoutMs !== undefined && { drainTimeoutMs: options.drainTimeoutMs }),
      ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    });
  }

  on<Desc extends DescMessage>(
    topic: Topic<Desc>,
    options: HandlerOptions,
    handler: MessageHandler<Desc>,
  ): this {
    this.consumers.on(topic, options, handler);
    return this;
  }

  /** Creates missing topics and connects the producer; publishing works from here on. */
  connect(): Promise<void> {
    this.connecting ??= (async () => {
      await ensureTopics(this.driver, [...new Set([...this.topics, ...this.consumers.topics])]);
      await this.publisher.connect();
      this.logger.info({}, 'producer connected');
    })().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  /** connect(), then starts the consumer groups of the registered handlers. */
  async start(): Promise<void> {
    await this.connect();
    await this.consumers.start();
  }

  publish<Desc extends DescMessage>(
    topic: Topic<Desc>,
    message: MessageShape<Desc>,
  ): Promise<void> {
    return this.publisher.publish(topic, message);
  }

  publishAll<Desc extends DescMessage>(
    topic: Topic<Desc>,
    messages: readonly MessageShape<Desc>[],
  ): Promise<void> {
    return this.publisher.publishAll(topic, messages);
  }

  /** Graceful shutdown: drain and stop the consumers, then disconnect the producer. */
  async stop(): Promise<void> {
    await this.consumers.stop();
    await this.publisher.disconnect();
    this.connecting = undefined;
    this.logger.info({}, 'producer disconnected');
  }

  health(): MessagingHealth {
    const consumers = this.consumers.health();
    const producer = { connected: this.publisher.connected };
    const down = [
      ...(producer.connected ? [] : ['producer']),
      ...consumers.filter((consumer) => !consumer.connected).map(({ group }) => `group ${group}`),
    ];
    return down.length === 0
      ? { healthy: true, producer, consumers }
      : { healthy: false, detail: `not connected: ${down.join(', ')}`, producer, consumers };
  }
}
