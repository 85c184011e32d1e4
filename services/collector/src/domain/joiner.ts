import type {
  CaptureFragment,
  ContentEventFragment,
  LlmCall,
  StepFragment,
} from '@understudy/contracts';
import { CallStatusCode, ContentEventKind, Operation } from '@understudy/contracts';

export interface JoinerSettings {
  /** How long a call waits for its content events and its ancestors before it goes as it is. */
  readonly joinTimeoutMs: number;
  /** How long an emitted call is remembered, so a re-exported span is not captured twice. */
  readonly dedupWindowMs: number;
  /** Above this many bytes held, the oldest waiting calls go at once, as they are. */
  readonly maxHeldBytes: number;
  /** A failed call has no choice to wait for: it goes once its events stop for this long. */
  readonly settleMs: number;
}

/** A fragment as read from its partition. */
export interface Delivered {
  readonly fragment: CaptureFragment;
  readonly offset: bigint;
  /** Its size on the wire, for the memory bound. */
  readonly size: number;
}

/** What a call is assembled from. */
export interface CallPieces {
  readonly call: LlmCall;
  /** The call's content events (semconv ≤ 1.36), in arrival order. */
  readonly events: readonly ContentEventFragment[];
  /** The spans enclosing the call, nearest first, as far up as they are known. */
  readonly ancestors: readonly Ancestor[];
  /** Whether the ancestors reach the root span; false when the wait timed out. */
  readonly complete: boolean;
  /** Why it goes now: all pieces are there, its wait timed out, or memory is short. */
  readonly reason: 'complete' | 'timeout' | 'shed';
  /** When its span reached the joiner (ms since the epoch). */
  readonly arrivedAt: number;
  /** W3C traceparent of the export that carried the call span, so its trace continues. */
  readonly traceParent: string;
}

export interface Ancestor {
  readonly spanId: string;
  readonly step: StepFragment | undefined;
}

/** One position in the partition that must stay uncommitted while its piece is needed. */
interface Hold {
  readonly offset: bigint;
  released: boolean;
  /** When the piece stops being needed by itself (never, until released, when Infinity). */
  readonly expiresAt: number;
}

interface Waiting {
  readonly trace: TraceState;
  readonly traceParent: string;
  readonly call: LlmCall;
  readonly awaitsEvents: boolean;
  readonly events: ContentEventFragment[];
  readonly holds: Hold[];
  readonly arrivedAt: number;
  lastEventAt: number;
  bytes: number;
}

interface Orphans {
  readonly events: ContentEventFragment[];
  readonly holds: Hold[];
  readonly arrivedAt: number;
  bytes: number;
}

interface Link {
  readonly parentSpanId: string;
  readonly step: StepFragment | undefined;
  readonly expiresAt: number;
}

interface TraceState {
  readonly key: string;
  readonly links: Map<string, Link>;
  readonly waiting: Map<string, Waiting>;
  readonly orphans: Map<string, Orphans>;
  /** Span ids of calls already emitted, until when they are remembered. */
  readonly emitted: Map<string, number>;
  /** Span ids that enclose an embeddings call, until when they are remembered. */
  readonly embedders: Map<string, number>;
}

/** How deep an ancestor chain is followed: deeper is a cycle or garbage. */
const maxDepth = 64;

/**
 * Joins the fragments of one partition into calls. Pure state: the consumer feeds it fragments
 * in offset order, asks which calls are due, publishes them, and commits what `commitOffset()`
 * allows, so that every piece still needed stays uncommitted and is replayed after a crash.
 */
export class PartitionJoiner {
  private readonly traces = new Map<string, TraceState>();
  /** Holds in offset order: the first one not released is where a restart must resume. */
  private readonly holds: Hold[] = [];
  private holdsStart = 0;
  /** Waiting calls in arrival order, for timeouts and for shedding under memory pressure. */
  private readonly queue = new Set<Waiting>();
  private nextOffset: bigint | undefined;
  private heldBytes = 0;

  constructor(private readonly settings: JoinerSettings) {}

  get waitingCalls(): number {
    return this.queue.size;
  }

  get bytesHeld(): number {
    return this.heldBytes;
  }

  add({ fragment, offset, size }: Delivered, now: number): void {
    this.nextOffset = offset + 1n;
    const trace = this.trace(fragment);
    const { spanId, parentSpanId } = fragment;
    switch (fragment.kind.case) {
      case 'call': {
        const { call, awaitsEvents } = fragment.kind.value;
        if (call === undefined || trace.emitted.has(spanId) || trace.waiting.has(spanId)) return;
        if (this.encloses(trace, call, parentSpanId, now)) {
          this.hold(offset, now + this.settings.joinTimeoutMs);
          const expiresAt = now + this.settings.joinTimeoutMs;
          trace.links.set(spanId, { parentSpanId, step: undefined, expiresAt });
          return;
        }
        const hold = this.hold(offset, Infinity);
        const orphans = trace.orphans.get(spanId);
        trace.orphans.delete(spanId);
        const waiting: Waiting = {
          trace,
          traceParent: fragment.meta?.traceParent ?? '',
          call,
          awaitsEvents,
          events: orphans?.events ?? [],
          holds: [hold, ...(orphans?.holds ?? [])],
          arrivedAt: now,
          lastEventAt: orphans === undefined ? 0 : now,
          bytes: size + (orphans?.bytes ?? 0),
        };
        this.heldBytes += size;
        trace.waiting.set(spanId, waiting);
        trace.links.set(spanId, { parentSpanId, step: undefined, expiresAt: Infinity });
        this.queue.add(waiting);
        return;
      }
      case 'event': {
        if (trace.emitted.has(spanId)) return;
        const event = fragment.kind.value;
        const waiting = trace.waiting.get(spanId);
        const hold = this.hold(offset, waiting ? Infinity : now + this.settings.joinTimeoutMs);
        this.heldBytes += size;
        if (waiting !== undefined) {
          waiting.events.push(event);
          waiting.holds.push(hold);
          waiting.bytes += size;
          waiting.lastEventAt = now;
          return;
        }
        const orphans = trace.orphans.get(spanId) ?? {
          events: [],
          holds: [],
          arrivedAt: now,
          bytes: 0,
        };
        orphans.events.push(event);
        orphans.holds.push(hold);
        orphans.bytes += size;
        trace.orphans.set(spanId, orphans);
        return;
      }
      case 'step': {
        const expiresAt = now + this.settings.joinTimeoutMs;
        this.hold(offset, expiresAt);
        trace.links.set(spanId, { parentSpanId, step: fragment.kind.value, expiresAt });
        return;
      }
      case 'emitted': {
        this.hold(offset, now + this.settings.dedupWindowMs);
        this.settle(trace, spanId, now);
        return;
      }
      case undefined:
        return;
    }
  }

  /**
   * The calls ready to go: their events and ancestors are all there, or their wait timed out,
   * or memory is short. They stay held until `emitted()` confirms they were published.
   */
  due(now: number): CallPieces[] {
    const due: CallPieces[] = [];
    let shed = this.heldBytes - this.settings.maxHeldBytes;
    for (const waiting of this.queue) {
      const chain = this.ancestors(waiting);
      const reason =
        chain.complete && this.eventsReady(waiting, now)
          ? 'complete'
          : now - waiting.arrivedAt >= this.settings.joinTimeoutMs
            ? 'timeout'
            : shed > 0
              ? 'shed'
              : undefined;
      if (reason === undefined) continue;
      shed -= waiting.bytes;
      due.push({
        call: waiting.call,
        events: waiting.events,
        ancestors: chain.ancestors,
        complete: chain.complete,
        reason,
        arrivedAt: waiting.arrivedAt,
        traceParent: waiting.traceParent,
      });
    }
    return due;
  }

  /** The calls were published: release what they held and remember them for deduplication. */
  emitted(calls: readonly LlmCall[], now: number): void {
    for (const call of calls) {
      const trace = this.traces.get(traceKey(call.tenantId, call.traceId));
      if (trace !== undefined) this.settle(trace, call.spanId, now);
    }
  }

  /**
   * Whether an embeddings call only encloses others: the Vercel AI SDK 7 records `embed` and
   * `embedMany` as an embeddings span around the embeddings span of each provider request, and
   * one call is one provider request. Such a span is a link in the chain, whichever of the two
   * arrives first.
   */
  private encloses(trace: TraceState, call: LlmCall, parentSpanId: string, now: number): boolean {
    if (call.operation !== Operation.EMBEDDINGS) return false;
    trace.embedders.set(parentSpanId, now + this.settings.joinTimeoutMs);
    const parent = trace.waiting.get(parentSpanId);
    if (parent?.call.operation === Operation.EMBEDDINGS) {
      this.release(parent);
      trace.links.set(parentSpanId, {
        parentSpanId: parent.call.context?.parentSpanId ?? '',
        step: undefined,
        expiresAt: now + this.settings.joinTimeoutMs,
      });
    }
    return trace.embedders.has(call.spanId);
  }

  /** Lets go of a waiting call and all it held. */
  private release(waiting: Waiting): void {
    for (const hold of waiting.holds) hold.released = true;
    this.heldBytes -= waiting.bytes;
    this.queue.delete(waiting);
    waiting.trace.waiting.delete(waiting.call.spanId);
  }

  /** A call was published, by this member or before a restart: it is not joined again. */
  private settle(trace: TraceState, spanId: string, now: number): void {
    trace.emitted.set(spanId, now + this.settings.dedupWindowMs);
    const waiting = trace.waiting.get(spanId);
    if (waiting === undefined) return;
    this.release(waiting);
    // A call span may enclose other calls: it stays a link for as long as a step would.
    trace.links.set(spanId, {
      parentSpanId: waiting.call.context?.parentSpanId ?? '',
      step: undefined,
      expiresAt: now + this.settings.joinTimeoutMs,
    });
  }

  /**
   * Forgets what expired, and returns the offset a restart must resume from: the first piece
   * still needed, or past the last fragment seen when none is.
   */
  commitOffset(now: number): bigint | undefined {
    this.expire(now);
    while (this.holdsStart < this.holds.length) {
      const hold = this.holds[this.holdsStart];
      if (hold === undefined || !(hold.released || hold.expiresAt <= now)) break;
      this.holdsStart += 1;
    }
    if (this.holdsStart > 4096 && this.holdsStart * 2 > this.holds.length) {
      this.holds.splice(0, this.holdsStart);
      this.holdsStart = 0;
    }
    return this.holds[this.holdsStart]?.offset ?? this.nextOffset;
  }

  private expire(now: number): void {
    for (const [key, trace] of this.traces) {
      for (const [spanId, orphans] of trace.orphans) {
        if (now - orphans.arrivedAt >= this.settings.joinTimeoutMs) {
          this.heldBytes -= orphans.bytes;
          trace.orphans.delete(spanId);
        }
      }
      for (const [spanId, link] of trace.links) {
        if (link.expiresAt <= now) trace.links.delete(spanId);
      }
      for (const [spanId, until] of trace.emitted) {
        if (until <= now) trace.emitted.delete(spanId);
      }
      for (const [spanId, until] of trace.embedders) {
        if (until <= now) trace.embedders.delete(spanId);
      }
      const empty =
        trace.waiting.size === 0 &&
        trace.orphans.size === 0 &&
        trace.emitted.size === 0 &&
        trace.embedders.size === 0;
      if (empty && trace.links.size === 0) this.traces.delete(key);
    }
  }

  private eventsReady(waiting: Waiting, now: number): boolean {
    if (!waiting.awaitsEvents) return true;
    const outputs = waiting.events.filter((event) => isOutput(event)).length;
    const choices = waiting.call.parameters?.choiceCount ?? 1;
    if (outputs >= Math.max(choices, 1)) return true;
    // A failed call has no choice to wait for; its input events are all it will get.
    return (
      waiting.call.status?.code === CallStatusCode.ERROR &&
      waiting.events.length > 0 &&
      now - waiting.lastEventAt >= this.settings.settleMs
    );
  }

  private ancestors(waiting: Waiting): { ancestors: Ancestor[]; complete: boolean } {
    const ancestors: Ancestor[] = [];
    let spanId = waiting.call.context?.parentSpanId ?? '';
    while (spanId !== '' && ancestors.length < maxDepth) {
      const link = waiting.trace.links.get(spanId);
      if (link === undefined) return { ancestors, complete: false };
      ancestors.push({ spanId, step: link.step });
      spanId = link.parentSpanId;
    }
    return { ancestors, complete: spanId === '' };
  }

  private hold(offset: bigint, expiresAt: number): Hold {
    const hold: Hold = { offset, released: false, expiresAt };
    this.holds.push(hold);
    return hold;
  }

  private trace(fragment: CaptureFragment): TraceState {
    const key = traceKey(fragment.meta?.tenantId ?? '', fragment.traceId);
    let trace = this.traces.get(key);
    if (trace === undefined) {
      trace = {
        key,
        links: new Map(),
        waiting: new Map(),
        orphans: new Map(),
        emitted: new Map(),
        embedders: new Map(),
      };
      this.traces.set(key, trace);
    }
    return trace;
  }
}

const traceKey = (tenantId: string, traceId: string) => `${tenantId}\u0000${traceId}`;

const isOutput = (event: ContentEventFragment): boolean =>
  event.kind === ContentEventKind.OUTPUT_MESSAGE;
