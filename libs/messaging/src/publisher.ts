import { randomUUID } from 'node:crypto';
import { toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { DriverProducer, MessagingDriver, OutgoingRecord } from './driver.js';
import { Header, protobufContentType } from './headers.js';
import { createInstruments, type Instruments } from './instruments.js';
import type { Topic } from './topic.js';

export interface PublisherOptions {
  /** Names the publishing service in the producer header of every record. */
  readonly producerName: string;
}

/**
 * Publishes protobuf messages to catalog topics. A publish resolves only once the broker
 * acknowledged the records; the driver's producer is idempotent, so its retries add no duplicates.
 */
export class Publisher {
  private readonly producer: DriverProducer;
  private readonly producerName: string;
  private readonly tracer = trace.getTracer('understudy.messaging');
  private readonly instruments: Instruments = createInstruments();

  constructor(driver: MessagingDriver, options: PublisherOptions) {
    this.producerName = options.producerName;
    this.producer = driver.createProducer();
  }

  get connected(): boolean {
    return this.producer.connected;
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  publish<Desc extends DescMessage>(
    topic: Topic<Desc>,
    message: MessageShape<Desc>,
  ): Promise<void> {
    return this.publishAll(topic, [message]);
  }

  /**
   * Publishes several messages of one topic, in order; resolves once all are acknowledged. A
   * failure may leave some written: retrying is safe, as consumers dedupe by event id.
   */
  async publishAll<Desc extends DescMessage>(
    topic: Topic<Desc>,
    messages: readonly MessageShape<Desc>[],
  ): Promise<void> {
    if (messages.length === 0) return;
    const attributes = {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'send',
      'messaging.destination.name': topic.name,
      'messaging.batch.message_count': messages.length,
    };
    await this.tracer.startActiveSpan(
      `send ${topic.name}`,
      { kind: SpanKind.PRODUCER, attributes },
      async (span) => {
        try {
          await this.producer.send(messages.map((message) => this.record(topic, message)));
          this.instruments.published.add(messages.length, {
            'messaging.destination.name': topic.name,
          });
        } catch (error) {
          span.recordException(error instanceof Error ? error : String(error));
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  /** Sends records as they are, e.g. dead letters that keep the original bytes and headers. */
  publishRecords(records: readonly OutgoingRecord[]): Promise<void> {
    return this.producer.send(records);
  }

  private record<Desc extends DescMessage>(
    topic: Topic<Desc>,
    message: MessageShape<Desc>,
  ): OutgoingRecord {
    if (message.$typeName !== topic.schema.typeName) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `${message.$typeName} cannot be published to ${topic.name}, which carries ${topic.schema.typeName}`,
      );
    }
    const headers: Record<string, string> = {
      [Header.ContentType]: protobufContentType,
      [Header.Schema]: topic.schema.typeName,
      [Header.EventId]: topic.eventId?.(message) || randomUUID(),
      [Header.Producer]: this.producerName,
    };
    propagation.inject(context.active(), headers);
    return {
      topic: topic.name,
      key: topic.key.of(message),
      value: toBinary(topic.schema, message),
      headers,
    };
  }
}
