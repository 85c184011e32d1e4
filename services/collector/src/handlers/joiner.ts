import { setTimeout as sleep } from 'node:timers/promises';
import { create, fromBinary } from '@bufbuild/protobuf';
import { metrics } from '@opentelemetry/api';
import {
  CallCapturedSchema,
  CaptureFragmentSchema,
  type CallCaptured,
  type CaptureFragment,
  type LlmCall,
} from '@understudy/contracts';
import {
  derivedUuid,
  eventMeta,
  topics,
  type DriverConsumer,
  type IncomingRecord,
  type MessagingDriver,
} from '@understudy/messaging';
import { silentLogger, type Logger } from '@understudy/telemetry';
import { assembleCall, type ContentSeal } from '../domain/assemble.js';
import { PartitionJoiner, type CallPieces, type JoinerSettings } from '../domain/joiner.js';

export interface JoinerOptions {
  readonly driver: MessagingDriver;
  readonly publishCalls: (events: readonly CallCaptured[]) => Promise<void>;
  readonly publishFragments: (fragments: readonly CaptureFragment[]) => Promise<void>;
  readonly seal: ContentSeal;
  readonly settings: JoinerSettings;
  /** How often waiting calls are checked and offsets committed. */
  readonly tickMs: number;
  readonly producer: string;
  readonly logger?: Logger;
}

interface Partition {
  readonly joiner: PartitionJoiner;
  /**
   * Offsets below it were read before this member owned the partition, perhaps already
   * joined and published: nothing is emitted until they are all replayed, so that their
   * emitted markers are known first.
   */
  readonly replayUntil: bigint;
  caughtUp: boolean;
}

const joinerGroup = 'collector-joiner';

/** How long stop() waits for a round in flight. */
const stopGraceMs = 2_000;

/**
 * Consumes the fragments topic and publishes the joined calls. Offsets are committed by hand,
 * up to the first fragment still needed: a crash or rebalance replays everything still waiting
 * and the emitted markers of the dedup window, so no call is lost or published twice.
 */
export class Joiner {
  private readonly partitions = new Map<number, Partition>();
  private readonly logger: Logger;
  private consumer: DriverConsumer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  /** Calls published whose emitted markers are not yet durable: not published again. */
  private readonly unmarked = new Map<string, { call: LlmCall; partition: number }>();

  private readonly meter = metrics.getMeter('understudy.collector');
  private readonly joined = this.meter.createCounter('understudy.collector.calls', {
    description: 'Calls published, by how their wait ended: complete, timeout, shed',
  });
  private readonly joinDelay = this.meter.createHistogram('understudy.collector.join.delay', {
    description: 'From a call span reaching the joiner to its call being published',
    unit: 's',
  });

  constructor(private readonly options: JoinerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.meter
      .createObservableGauge('understudy.collector.join.waiting', {
        description: 'Calls waiting for their content events or ancestors',
      })
      .addCallback((result) => {
        result.observe(this.sum((joiner) => joiner.waitingCalls));
      });
    this.meter
      .createObservableGauge('understudy.collector.join.held', {
        description: 'Bytes of fragments held by the joiner',
        unit: 'By',
      })
      .addCallback((result) => {
        result.observe(this.sum((joiner) => joiner.bytesHeld));
      });
  }

  get connected(): boolean {
    return this.consumer?.connected ?? false;
  }

  async start(): Promise<void> {
    this.consumer = this.options.driver.createConsumer({
      group: joinerGroup,
      topics: [topics.captureFragments.name],
      concurrency: topics.captureFragments.partitions,
      commits: 'manual',
      deliver: (record) => {
        this.deliver(record);
        return Promise.resolve();
      },
      onAssignment: () => {
        this.assign();
      },
    });
    await this.consumer.start();
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(() => this.tick(Date.now()));
    }, this.options.tickMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // A round stuck on an unreachable broker is abandoned: its calls stay uncommitted.
    await Promise.race([this.ticking, sleep(stopGraceMs)]);
    // The driver ignores commits once it is stopping: this is the last chance.
    await this.commit(Date.now()).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'final joiner commit failed; the next owner replays more');
    });
    await this.consumer?.stop();
  }

  /** Runs one round: publishes the calls that are due and commits what may be committed. */
  async tick(now: number): Promise<void> {
    try {
      await this.markUnmarked(now);
      for (const [number, partition] of this.partitions) {
        if (!partition.caughtUp) continue;
        await this.publish(number, partition.joiner.due(now), now);
      }
      await this.commit(now);
    } catch (error) {
      // Kafka is away: what is waiting stays held and uncommitted, and the next tick retries.
      this.logger.warn({ err: error }, 'joiner round failed; retrying');
    }
  }

  private deliver(record: IncomingRecord): void {
    const offset = BigInt(record.offset);
    let partition = this.partitions.get(record.partition);
    if (partition === undefined) {
      const replayUntil = BigInt(record.highWatermark);
      partition = {
        joiner: new PartitionJoiner(this.options.settings),
        replayUntil,
        caughtUp: false,
      };
      this.partitions.set(record.partition, partition);
    }
    if (record.value !== null) {
      let fragment: CaptureFragment;
      try {
        fragment = fromBinary(CaptureFragmentSchema, record.value);
      } catch (error) {
        // Only the collector writes this topic; a record it cannot read is skipped, not retried.
        this.logger.error(
          { err: error, partition: record.partition, offset: record.offset },
          'undecodable fragment skipped',
        );
        return;
      }
      partition.joiner.add({ fragment, offset, size: record.value.byteLength }, Date.now());
    }
    if (offset + 1n >= partition.replayUntil) partition.caughtUp = true;
  }

  /**
   * Every assignment redelivers its partitions from their last commit, so what was joined so
   * far is dropped and rebuilt from the replay. Published calls still waiting for their markers
   * stay known, so the replay does not publish them again.
   */
  private assign(): void {
    this.partitions.clear();
  }

  private async publish(number: number, due: CallPieces[], now: number): Promise<void> {
    const fresh = due.filter((pieces) => !this.unmarked.has(pieces.call.callId));
    if (fresh.length === 0) return;
    const events = fresh.map((pieces) => {
      // Derived from the call, so that a republished call carries the same event id.
      const meta = eventMeta({
        tenantId: pieces.call.tenantId,
        producer: this.options.producer,
        eventId: derivedUuid(`call-captured:${pieces.call.callId}`),
        ...(pieces.call.timing?.startTime && { occurredAt: pieces.call.timing.startTime }),
      });
      // Consumers continue the trace of the export that brought the call.
      meta.traceParent = pieces.traceParent;
      meta.traceState = '';
      return create(CallCapturedSchema, { meta, call: assembleCall(pieces, this.options.seal) });
    });
    await this.options.publishCalls(events);
    // Fragments delivered during this round's awaits arrived after its `now`.
    const published = Date.now();
    for (const pieces of fresh) {
      this.unmarked.set(pieces.call.callId, { call: pieces.call, partition: number });
      this.joined.add(1, { outcome: pieces.reason });
      this.joinDelay.record((published - pieces.arrivedAt) / 1000, { outcome: pieces.reason });
    }
    await this.markUnmarked(now);
  }

  /** Publishes the emitted markers, then lets the joiners release the calls' fragments. */
  private async markUnmarked(now: number): Promise<void> {
    if (this.unmarked.size === 0) return;
    const entries = [...this.unmarked.values()];
    await this.options.publishFragments(
      entries.map(({ call }) =>
        create(CaptureFragmentSchema, {
          meta: eventMeta({ tenantId: call.tenantId, producer: this.options.producer }),
          traceId: call.traceId,
          spanId: call.spanId,
          parentSpanId: call.context?.parentSpanId ?? '',
          kind: { case: 'emitted', value: { callId: call.callId } },
        }),
      ),
    );
    for (const { call, partition } of entries) {
      this.unmarked.delete(call.callId);
      this.partitions.get(partition)?.joiner.emitted([call], now);
    }
  }

  private async commit(now: number): Promise<void> {
    const offsets = [];
    for (const [partition, { joiner }] of this.partitions) {
      const offset = joiner.commitOffset(now);
      if (offset !== undefined) {
        offsets.push({ topic: topics.captureFragments.name, partition, offset: offset.toString() });
      }
    }
    if (offsets.length > 0) await this.consumer?.commit(offsets);
  }

  private sum(measure: (joiner: PartitionJoiner) => number): number {
    let total = 0;
    for (const { joiner } of this.partitions.values()) total += measure(joiner);
    return total;
  }
}
