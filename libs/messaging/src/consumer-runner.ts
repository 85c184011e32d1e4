import { setTimeout as sleep } from 'node:timers/promises';
import { fromBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import {
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { silentLogger, type Logger } from '@understudy/telemetry';
import type { DriverConsumer, IncomingRecord, MessagingDriver } from './driver.js';
import { Header, headersAsText } from './headers.js';
import { createInstruments, type Instruments } from './instruments.js';
import type { Publisher } from './publisher.js';
import { backoffDelay, retryPolicy, type RetryPolicy } from './retry.js';
import type { Topic } from './topic.js';

/** What a handler learns about the record besides the decoded message. */
export interface MessageContext {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: Date;
  readonly group: string;
  /** 1 on first delivery; counts again from 1 when a record is redelivered after a restart. */
  readonly attempt: number;
  /** Aborted when a shutdown's drain deadline passed: stop; the record will be delivered again. */
  readonly signal: AbortSignal;
}

export type MessageHandler<Desc extends DescMessage> = (
  message: MessageShape<Desc>,
  context: MessageContext,
) => Promise<void> | void;

export interface HandlerOptions {
  /** The consumer group, named explicitly (e.g. `embedder`); replicas of a service share it. */
  readonly group: string;
  readonly retry?: Partial<RetryPolicy>;
}

export interface ConsumerRunnerOptions {
  readonly logger?: Logger;
  /** Default for handlers that give no policy of their own. */
  readonly retry?: Partial<RetryPolicy>;
  /** How long stop() lets handlers in flight finish before abandoning them; 10 s by default. */
  readonly drainTimeoutMs?: number;
  /** Partitions each consumer group handles at the same time; 1 by default. */
  readonly concurrency?: number;
}

export interface ConsumerHealth {
  readonly group: string;
  readonly topics: readonly string[];
  readonly connected: boolean;
}

interface Registration {
  readonly topic: Topic;
  readonly group: string;
  readonly retry: RetryPolicy;
  /** Decodes a value, returning the handler bound to the message; throws when it cannot be decoded. */
  bind(value: Uint8Array): (context: MessageContext) => Promise<void> | void;
}

interface RunningConsumer {
  readonly group: string;
  readonly topics: readonly string[];
  readonly consumer: DriverConsumer;
}

/** Thrown to the driver so the record stays uncommitted and is delivered again later. */
const abandoned = (): UnderstudyError =>
  new UnderstudyError(ErrorCode.Cancelled, 'shutting down: record left uncommitted for redelivery');

const maxErrorHeaderLength = 1_000;

/**
 * Runs handlers for consumer groups: decodes, retries retryable failures with bounded exponential
 * backoff, dead-letters what cannot succeed, and lets the driver commit a record only once it was
 * handled or dead-lettered (at-least-once).
 */
export class ConsumerRunner {
  private readonly registrations: Registration[] = [];
  private readonly running: RunningConsumer[] = [];
  private readonly logger: Logger;
  private readonly retry: RetryPolicy;
  private readonly drainTimeoutMs: number;
  private readonly concurrency: number;
  private readonly tracer = trace.getTracer('understudy.messaging');
  private readonly instruments: Instruments = createInstruments();
  /** Aborted when stop() begins: no new attempts start. */
  private draining = new AbortController();
  /** Aborted when the drain deadline passed: attempts in flight are abandoned. */
  private deadline = new AbortController();

  constructor(
    private readonly driver: MessagingDriver,
    private readonly deadLetters: Publisher,
    options: ConsumerRunnerOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.retry = retryPolicy(options.retry);
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.concurrency = options.concurrency ?? 1;
  }

  /** Topics with at least one handler; they and their dead-letter topics must exist before start(). */
  get topics(): readonly Topic[] {
    return [...new Set(this.registrations.map((registration) => registration.topic))];
  }

  /** Registers a handler; one handler per topic and group. */
  on<Desc extends DescMessage>(
    topic: Topic<Desc>,
    options: HandlerOptions,
    handler: MessageHandler<Desc>,
  ): void {
    if (this.running.length > 0) {
      throw new UnderstudyError(
        ErrorCode.FailedPrecondition,
        'handlers must be registered before start()',
      );
    }
    if (options.group.trim() === '') {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `a handler of ${topic.name} has no group`,
      );
    }
    const taken = this.registrations.some(
      (registration) =>
        registration.group === options.group && registration.topic.name === topic.name,
    );
    if (taken) {
      throw new UnderstudyError(
        ErrorCode.AlreadyExists,
        `group "${options.group}" already has a handler for ${topic.name}`,
      );
    }
    this.registrations.push({
      topic,
      group: options.group,
      retry: retryPolicy(options.retry, this.retry),
      bind: (value) => {
        const message = fromBinary(topic.schema, value);
        return (context) => handler(message, context);
      },
    });
  }

  /** Starts one consumer per group; resolves once every group was joined. */
  async start(): Promise<void> {
    if (this.running.length > 0) return;
    this.draining = new AbortController();
    this.deadline = new AbortController();
    const groups = new Map<string, Map<string, Registration>>();
    for (const registration of this.registrations) {
      const routes = groups.get(registration.group) ?? new Map<string, Registration>();
      groups.set(registration.group, routes.set(registration.topic.name, registration));
    }
    for (const [group, routes] of groups) {
      const topics = [...routes.keys()];
      const consumer = this.driver.createConsumer({
        group,
        topics,
        concurrency: this.concurrency,
        deliver: (record) => this.deliver(group, routes, record),
      });
      this.running.push({ group, topics, consumer });
      await consumer.start();
      this.logger.info({ group, topics }, 'consumer started');
    }
  }

  /**
   * Two-phase stop: stop fetching and starting attempts, let attempts in flight finish until the
   * drain deadline, then abandon the rest uncommitted; resolves once every consumer left its group.
   */
  async stop(): Promise<void> {
    if (this.running.length === 0) return;
    // Drivers learn they are stopping first, so records abandoned below count as left over.
    const stopped = Promise.all(this.running.map(({ consumer }) => consumer.stop()));
    this.draining.abort();
    const timer = setTimeout(() => {
      this.deadline.abort();
    }, this.drainTimeoutMs);
    try {
      await stopped;
    } finally {
      clearTimeout(timer);
      this.running.splice(0);
    }
    this.logger.info({}, 'consumers stopped');
  }

  health(): ConsumerHealth[] {
    return this.running.map(({ group, topics, consumer }) => ({
      group,
      topics,
      connected: consumer.connected,
    }));
  }

  private async deliver(
    group: string,
    routes: ReadonlyMap<string, Registration>,
    record: IncomingRecord,
  ): Promise<void> {
    const registration = routes.get(record.topic);
    if (registration === undefined) {
      throw new UnderstudyError(ErrorCode.Internal, `no handler for ${record.topic} in ${group}`);
    }
    const headers = headersAsText(record.headers);
    const attributes: Attributes = {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': record.topic,
      'messaging.destination.partition.id': String(record.partition),
      'messaging.consumer.group.name': group,
      'messaging.kafka.offset': Number(record.offset),
    };
    const parent = propagation.extract(ROOT_CONTEXT, headers);
    await this.tracer.startActiveSpan(
      `process ${record.topic}`,
      { kind: SpanKind.CONSUMER, attributes },
      parent,
      async (span) => {
        try {
          await this.process(registration, record, headers, span);
        } catch (error) {
          // Left uncommitted (shutdown, or the dead-letter topic unreachable): delivered again.
          const failure = UnderstudyError.from(error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
          if (failure.code !== ErrorCode.Cancelled) {
            this.logger.error(
              { ...location(record), group, code: failure.code, error: failure.message },
              'record left uncommitted, it will be delivered again',
            );
          }
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  private async process(
    registration: Registration,
    record: IncomingRecord,
    headers: Readonly<Record<string, string>>,
    span: Span,
  ): Promise<void> {
    let run: (context: MessageContext) => Promise<void> | void;
    try {
      run = registration.bind(decodable(registration.topic, record, headers));
    } catch (error) {
      const failure = new UnderstudyError(
        ErrorCode.InvalidArgument,
        `undecodable record: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
      await this.deadLetter(registration, record, failure, 0, span);
      return;
    }
    const metricAttributes = {
      'messaging.destination.name': record.topic,
      'messaging.consumer.group.name': registration.group,
    };
    const key = record.key === null ? null : new TextDecoder().decode(record.key);
    for (let attempt = 1; ; attempt += 1) {
      if (this.deadline.signal.aborted) throw abandoned();
      const outcome = await this.attempt(
        run,
        {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          key,
          headers,
          timestamp: new Date(Number(record.timestamp)),
          group: registration.group,
          attempt,
          signal: this.deadline.signal,
        },
        metricAttributes,
      );
      if (outcome === 'handled') return;
      if (outcome === 'abandoned') throw abandoned();
      this.logger.warn(
        {
          ...location(record),
          group: registration.group,
          attempt,
          code: outcome.code,
          error: outcome.message,
        },
        'message handler failed',
      );
      if (!outcome.retryable || attempt >= registration.retry.attempts) {
        await this.deadLetter(registration, record, outcome, attempt, span);
        return;
      }
      if (this.draining.signal.aborted) throw abandoned();
      this.instruments.retried.add(1, metricAttributes);
      const pause = backoffDelay(registration.retry, attempt);
      await sleep(pause, undefined, { signal: this.draining.signal }).catch(() => {
        throw abandoned();
      });
    }
  }

  /** One handler attempt: handled, failed (with the failure), or cut off by the drain deadline. */
  private async attempt(
    run: (context: MessageContext) => Promise<void> | void,
    context: MessageContext,
    metricAttributes: Attributes,
  ): Promise<'handled' | 'abandoned' | UnderstudyError> {
    const started = performance.now();
    try {
      if (!(await this.untilDeadline(run(context)))) return 'abandoned';
      this.instruments.handled.add(1, metricAttributes);
      return 'handled';
    } catch (error) {
      if (this.deadline.signal.aborted) return 'abandoned';
      const failure = UnderstudyError.from(error);
      this.instruments.failed.add(1, { ...metricAttributes, 'error.type': failure.code });
      return failure;
    } finally {
      this.instruments.handlerDuration.record(
        (performance.now() - started) / 1000,
        metricAttributes,
      );
    }
  }

  /** Waits for a handler attempt; false when the drain deadline passed first. */
  private async untilDeadline(attempt: Promise<void> | void): Promise<boolean> {
    const signal = this.deadline.signal;
    let onAbort = (): void => undefined;
    const cutOff = new Promise<boolean>((resolve) => {
      onAbort = () => {
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([Promise.resolve(attempt).then(() => true), cutOff]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async deadLetter(
    registration: Registration,
    record: IncomingRecord,
    failure: UnderstudyError,
    attempts: number,
    span: Span,
  ): Promise<void> {
    span.recordException(failure);
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    const destination = registration.topic.deadLetter.name;
    await this.deadLetters.publishRecords([
      {
        topic: destination,
        key: record.key,
        value: record.value,
        headers: {
          ...record.headers,
          [Header.OriginTopic]: record.topic,
          [Header.OriginPartition]: String(record.partition),
          [Header.OriginOffset]: record.offset,
          [Header.ErrorCode]: failure.code,
          [Header.ErrorMessage]: failure.message.slice(0, maxErrorHeaderLength),
          [Header.Attempts]: String(attempts),
          [Header.DeadLetteredAt]: new Date().toISOString(),
        },
      },
    ]);
    this.instruments.deadLettered.add(1, {
      'messaging.destination.name': record.topic,
      'messaging.consumer.group.name': registration.group,
      'error.type': failure.code,
    });
    this.logger.error(
      {
        ...location(record),
        group: registration.group,
        attempts,
        code: failure.code,
        error: failure.message,
        destination,
      },
      'message dead-lettered',
    );
  }
}

function location(record: IncomingRecord): Record<string, unknown> {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

/** The value, after checking it claims to be what the topic carries. */
function decodable(
  topic: Topic,
  record: IncomingRecord,
  headers: Readonly<Record<string, string>>,
): Uint8Array {
  if (record.value === null) throw new Error('the record has no value');
  const schema = headers[Header.Schema];
  if (schema !== undefined && schema !== topic.schema.typeName) {
    throw new Error(`the record carries ${schema}, the topic ${topic.schema.typeName}`);
  }
  return record.value;
}
