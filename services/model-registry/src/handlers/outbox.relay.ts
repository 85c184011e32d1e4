import { setTimeout as sleep } from 'node:timers/promises';
import type { BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { fromBinary, isMessage, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { context, metrics, propagation, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { ConfigOf } from '@understudy/config';
import { EventMetaSchema } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { catalog, type Messaging, type Topic } from '@understudy/messaging';
import type { Logger } from '@understudy/telemetry';
import type { settings } from '../config.js';
import type { Outbox, OutboxLease, OutboxRecord } from '../drivers/outbox.js';

export interface OutboxRelayOptions {
  /** Most events read and published per pass. */
  readonly batchSize: number;
  /** The poll behind the wake-ups, and how often a standby relay tries to take over. */
  readonly pollMs: number;
  /** How long shutdown waits for the outbox to empty before leaving the rest to the next relay. */
  readonly drainMs: number;
  /**
   * Test-only fault (the outbox crash test): called once a pass has published its events and
   * before it deletes them, to show that a crash there republishes with the same event ids.
   */
  readonly afterPublish?: () => void;
}

/** Consecutive events of one topic and one trace: one publishAll, with that trace restored. */
interface Run {
  readonly topic: Topic;
  readonly messages: MessageShape<DescMessage>[];
  readonly records: OutboxRecord[];
  readonly trace: Context;
  readonly traceParent: string;
}

const topicsByName = new Map(catalog.map((topic) => [topic.name, topic]));
const maxBackoffMs = 30_000;

/**
 * Publishes the outbox to Kafka: the events that changes committed, in commit order per key,
 * each at least once. One relay per database leads (an advisory lock); it reads the oldest
 * events, publishes them in order, then deletes them. A crash after publishing and before
 * deleting publishes them again with the same event ids, which consumers drop.
 *
 * At shutdown it drains after the gRPC server stopped (module destroy) and before the producer
 * disconnects (application shutdown), so that the changes of the last calls leave with it.
 */
export class OutboxRelay implements OnModuleInit, BeforeApplicationShutdown {
  private stopping = false;
  private leading = false;
  private woken = false;
  /** Commits do not cut a backoff short; shutdown and a lost lease do. */
  private backingOff = false;
  private wakeUp: () => void = () => undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly meter = metrics.getMeter('understudy.model-registry');
  private readonly published = this.meter.createCounter('understudy.registry.outbox.published', {
    description: 'Events the outbox relay published to Kafka',
  });
  private readonly lag = this.meter.createHistogram('understudy.registry.outbox.lag', {
    description: 'From an event written to the outbox to Kafka acknowledging it',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120] },
  });

  constructor(
    private readonly outbox: Outbox,
    private readonly messaging: Messaging,
    private readonly options: OutboxRelayOptions,
    private readonly logger: Logger,
  ) {
    const backlog = this.meter.createObservableGauge('understudy.registry.outbox.backlog', {
      description: 'Events waiting in the outbox (reported by the leading relay)',
    });
    const oldest = this.meter.createObservableGauge('understudy.registry.outbox.oldest_age', {
      description: 'Age of the oldest event waiting in the outbox (reported by the leading relay)',
      unit: 's',
    });
    this.meter.addBatchObservableCallback(
      async (result) => {
        if (!this.leading) return;
        const waiting = await this.outbox.backlog().catch(() => undefined);
        if (waiting === undefined) return;
        result.observe(backlog, waiting.rows);
        const ageMs = waiting.oldestAt === undefined ? 0 : Date.now() - waiting.oldestAt.getTime();
        result.observe(oldest, Math.max(0, ageMs) / 1000);
      },
      [backlog, oldest],
    );
  }

  /**
   * Starts at module init, once the producer is connected: the outbox left by a crashed replica
   * need not wait for the consumer groups to rebalance (application bootstrap).
   */
  onModuleInit(): void {
    this.running = this.run().catch((error: unknown) => {
      this.logger.error({ err: error }, 'outbox relay stopped');
    });
  }

  /** Drains what the last calls wrote, then lets the producer go. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.interrupt();
    const drained = await Promise.race([
      this.running.then(() => true),
      sleep(this.options.drainMs, false),
    ]);
    if (!drained) {
      this.logger.warn(
        { drainMs: this.options.drainMs },
        'outbox not drained in time; the next relay publishes the rest',
      );
    }
  }

  /** Another pass is due: a change with events committed. */
  wake(): void {
    this.woken = true;
    if (!this.backingOff) this.wakeUp();
  }

  private interrupt(): void {
    this.woken = true;
    this.wakeUp();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const lease = await this.outbox
        .lead(() => {
          this.wake();
        })
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 'outbox relay cannot reach the database');
          return undefined;
        });
      if (lease === undefined) {
        await this.pause(this.options.pollMs);
        continue;
      }
      this.leading = true;
      this.logger.info({}, 'outbox relay leading');
      try {
        await this.relay(lease);
      } finally {
        this.leading = false;
        await lease.release();
      }
    }
  }

  /** Passes until shutdown drained the outbox, or the lease is lost. */
  private async relay(lease: OutboxLease): Promise<void> {
    const session = { lost: false };
    void lease.lost.then((error) => {
      session.lost = true;
      this.logger.warn({ err: error }, 'outbox relay lost its database session');
      this.interrupt();
    });
    let failures = 0;
    while (!session.lost) {
      let count: number;
      try {
        count = await this.pass(lease);
        failures = 0;
      } catch (error) {
        // At shutdown the rest waits for the next relay rather than for Kafka to come back.
        if (this.stopping) return;
        failures += 1;
        const delayMs = Math.min(maxBackoffMs, this.options.pollMs * 2 ** (failures - 1));
        this.logger.warn({ err: error, failures, delayMs }, 'outbox relay pass failed; retrying');
        await this.pause(delayMs, true);
        continue;
      }
      if (count === this.options.batchSize) continue;
      if (this.stopping) {
        if (count === 0) return;
        continue;
      }
      await this.pause(this.options.pollMs);
    }
  }

  /** Publishes the oldest events in order and deletes those Kafka acknowledged. */
  private async pass(lease: OutboxLease): Promise<number> {
    const records = await lease.pending(this.options.batchSize);
    if (records.length === 0) return 0;
    const { runs, problem } = decode(records);
    const acknowledged: string[] = [];
    try {
      for (const run of runs) {
        await context.with(run.trace, () => this.messaging.publishAll(run.topic, run.messages));
        const now = Date.now();
        for (const record of run.records) {
          acknowledged.push(record.id);
          this.lag.record(Math.max(0, now - record.createdAt.getTime()) / 1000, {
            'messaging.destination.name': run.topic.name,
          });
        }
        this.published.add(run.records.length, { 'messaging.destination.name': run.topic.name });
      }
      // An event that cannot be published holds back those after it, which may share its key.
      if (problem !== undefined) throw problem;
      this.options.afterPublish?.();
    } finally {
      if (acknowledged.length > 0) await lease.remove(acknowledged);
    }
    return records.length;
  }

  /** Waits `ms`, or less when woken (a commit unless `backoff`, shutdown, a lost lease). */
  private async pause(ms: number, backoff = false): Promise<void> {
    if ((backoff || !this.woken) && !this.stopping) {
      let timer: NodeJS.Timeout | undefined;
      this.backingOff = backoff;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        timer = setTimeout(resolve, ms);
      });
      clearTimeout(timer);
      this.backingOff = false;
      this.wakeUp = () => undefined;
    }
    this.woken = false;
  }
}

/**
 * The records as runs to publish, in order, up to the first that cannot be decoded (a topic
 * this version does not know, written by a newer one during a rollout: it stays for that one).
 */
function decode(records: readonly OutboxRecord[]): { runs: Run[]; problem?: UnderstudyError } {
  const runs: Run[] = [];
  for (const record of records) {
    const topic = topicsByName.get(record.topic);
    let message: MessageShape<DescMessage>;
    try {
      if (topic === undefined) throw new Error(`unknown topic ${record.topic}`);
      message = fromBinary(topic.schema, record.payload);
    } catch (error) {
      const problem = new UnderstudyError(
        ErrorCode.Internal,
        `outbox event ${record.id} (${record.eventId}) cannot be published: ${String(error)}`,
        { cause: error },
      );
      return { runs, problem };
    }
    const meta =
      'meta' in message && isMessage(message.meta, EventMetaSchema) ? message.meta : undefined;
    const traceParent = meta?.traceParent ?? '';
    const last = runs.at(-1);
    if (last?.topic === topic && last.traceParent === traceParent) {
      last.messages.push(message);
      last.records.push(record);
      continue;
    }
    const carrier = { traceparent: traceParent, tracestate: meta?.traceState ?? '' };
    runs.push({
      topic,
      messages: [message],
      records: [record],
      traceParent,
      trace: traceParent === '' ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, carrier),
    });
  }
  return { runs };
}

/** The relay's settings; the crash test's fault only under NODE_ENV=test. */
export function outboxRelayOptions(
  config: Pick<ConfigOf<typeof settings>, 'outbox' | 'testFault' | 'nodeEnv'>,
): OutboxRelayOptions {
  const crash = config.nodeEnv === 'test' && config.testFault === 'exit-after-publish';
  return {
    ...config.outbox,
    ...(crash && { afterPublish: () => process.kill(process.pid, 'SIGKILL') }),
  };
}
