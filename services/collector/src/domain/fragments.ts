import { create } from '@bufbuild/protobuf';
import { DurationSchema, TimestampSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  CallFragmentSchema,
  CaptureFragmentSchema,
  ContentEventFragmentSchema,
  ContentEventKind,
  StepFragmentSchema,
  LlmCallSchema,
  StepKind,
  type CaptureFragment,
  type ContentEventFragment,
  type LlmCall,
  type otlpLogsService,
  type otlpTraceService,
  type StepFragment,
} from '@understudy/contracts';
import { eventMeta } from '@understudy/messaging';
import { attributesOf, text } from './attributes.js';
import { callIdOf } from './call-id.js';
import {
  logMappers as defaultLogMappers,
  spanMappers as defaultSpanMappers,
  statusOf,
  type LogMapper,
  type MapContext,
  type SourceLogRecord,
  type SourceSpan,
  type SpanMapper,
} from './mappers/index.js';

/**
 * Removes what must not leave the process (PII, secrets) and encrypts content where the
 * tenant's policy says so, in place, before a fragment is published.
 */
export interface ContentGuard {
  call(call: LlmCall): void;
  step(step: StepFragment, tenantId: string): void;
  /** `callId` names the call the event belongs to (encryption binds content to it). */
  event(event: ContentEventFragment, tenantId: string, callId: string): void;
}

export interface FragmentOptions {
  readonly tenantId: string;
  /** Names the publishing service in each fragment's meta. */
  readonly producer: string;
  readonly mapContext: MapContext;
  readonly guard: ContentGuard;
  readonly spanMappers?: readonly SpanMapper[];
  readonly logMappers?: readonly LogMapper[];
}

/** The pieces one export holds, ready to publish, and what it left out. */
export interface Fragments {
  readonly fragments: CaptureFragment[];
  /** Records that are neither calls, steps nor content events (e.g. ordinary logs). */
  readonly ignored: number;
  /** Records that cannot be real, e.g. spans without ids (a logs export sent to /v1/traces). */
  readonly rejected: number;
  readonly rejectedMessage: string;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const nanosPerSecond = 1_000_000_000n;

export function timestamp(unixNanos: bigint): Timestamp {
  return create(TimestampSchema, {
    seconds: unixNanos / nanosPerSecond,
    nanos: Number(unixNanos % nanosPerSecond),
  });
}

function duration(nanos: bigint) {
  return create(DurationSchema, {
    seconds: nanos / nanosPerSecond,
    nanos: Number(nanos % nanosPerSecond),
  });
}

/** Every span of an export, with its resource and scope. */
export function* sourceSpans(
  request: otlpTraceService.ExportTraceServiceRequest,
): Generator<SourceSpan> {
  for (const resourceSpans of request.resourceSpans) {
    const resource = attributesOf(resourceSpans.resource?.attributes ?? []);
    for (const scopeSpans of resourceSpans.scopeSpans) {
      for (const span of scopeSpans.spans) {
        yield {
          span,
          attributes: attributesOf(span.attributes),
          resource,
          scopeName: scopeSpans.scope?.name ?? '',
          scopeVersion: scopeSpans.scope?.version ?? '',
          schemaUrl: scopeSpans.schemaUrl || resourceSpans.schemaUrl,
        };
      }
    }
  }
}

/** Every log record of an export, with its resource, scope and event name. */
export function* sourceLogRecords(
  request: otlpLogsService.ExportLogsServiceRequest,
): Generator<SourceLogRecord> {
  for (const resourceLogs of request.resourceLogs) {
    const resource = attributesOf(resourceLogs.resource?.attributes ?? []);
    for (const scopeLogs of resourceLogs.scopeLogs) {
      for (const record of scopeLogs.logRecords) {
        const attributes = attributesOf(record.attributes);
        yield {
          record,
          attributes,
          resource,
          scopeName: scopeLogs.scope?.name ?? '',
          scopeVersion: scopeLogs.scope?.version ?? '',
          schemaUrl: scopeLogs.schemaUrl || resourceLogs.schemaUrl,
          eventName: record.eventName || (text(attributes['event.name']) ?? ''),
        };
      }
    }
  }
}

/** `https://opentelemetry.io/schemas/1.37.0` → `1.37.0`. */
function semconvVersion(schemaUrl: string): string {
  return /\/schemas\/(\d+\.\d+\.\d+)$/.exec(schemaUrl)?.[1] ?? '';
}

const validIds = (traceId: Uint8Array, spanId: Uint8Array) =>
  traceId.length === 16 && spanId.length === 8;

function callOf(source: SourceSpan, mapper: SpanMapper, options: FragmentOptions) {
  const { span, resource } = source;
  const traceId = hex(span.traceId);
  const spanId = hex(span.spanId);
  const parentSpanId = hex(span.parentSpanId);
  const mapped = mapper.map(source, options.mapContext);
  const start = span.startTimeUnixNano;
  const end = span.endTimeUnixNano >= start ? span.endTimeUnixNano : undefined;
  const firstToken = mapped.streaming?.firstTokenUnixNano;
  const call = create(LlmCallSchema, {
    ...mapped.call,
    tenantId: options.tenantId,
    traceId,
    spanId,
    callId: callIdOf(options.tenantId, traceId, spanId),
    context: {
      ...mapped.context,
      serviceName: text(resource['service.name']) ?? '',
      parentSpanId,
    },
    timing: {
      startTime: timestamp(start),
      ...(end !== undefined && { latency: duration(end - start) }),
      streaming: mapped.streaming !== undefined,
      ...(firstToken !== undefined &&
        firstToken >= start && { timeToFirstToken: duration(firstToken - start) }),
    },
    status: statusOf(source),
    source: {
      format: mapper.format,
      version: semconvVersion(source.schemaUrl) || source.scopeVersion,
      scopeName: source.scopeName,
      scopeVersion: source.scopeVersion,
    },
  });
  options.guard.call(call);
  return { call, awaitsEvents: mapped.awaitsEvents === true };
}

/** What a span around calls says, from the first format that describes it; a bare link if none. */
function stepOf(source: SourceSpan, spanMappers: readonly SpanMapper[]): StepFragment {
  for (const mapper of spanMappers) {
    const step = mapper.step?.(source);
    if (step !== undefined) return create(StepFragmentSchema, step);
  }
  return create(StepFragmentSchema, { kind: StepKind.UNSPECIFIED });
}

/**
 * The inference gateway's spans name who answered in `understudy.route`. A small model's answer
 * (`slm`, or a `shadow` copy) is not the teacher's, and students must not learn from students;
 * the LLM's answers (`llm`, `llm-fallback`) are captured like any agent's call.
 */
const studentRoutes = new Set(['slm', 'shadow']);

/**
 * The pieces of a trace export: each LLM call span mapped by the first format that knows it,
 * each agent, workflow, step or tool span as a step, and every other span as a bare link so
 * that calls can still find their agent through spans no format describes.
 */
export function traceFragments(
  request: otlpTraceService.ExportTraceServiceRequest,
  options: FragmentOptions,
): Fragments {
  const spanMappers = options.spanMappers ?? defaultSpanMappers;
  const fragments: CaptureFragment[] = [];
  let ignored = 0;
  let rejected = 0;
  let unmappable = 0;
  for (const source of sourceSpans(request)) {
    const { span } = source;
    if (!validIds(span.traceId, span.spanId)) {
      rejected += 1;
      continue;
    }
    const route = text(source.attributes['understudy.route']);
    if (route !== undefined && studentRoutes.has(route)) {
      ignored += 1;
      continue;
    }
    try {
      fragments.push(spanFragment(source, spanMappers, options));
    } catch {
      // One span no mapper can make sense of must not sink the export it came in.
      unmappable += 1;
    }
  }
  return {
    fragments,
    ignored,
    rejected: rejected + unmappable,
    rejectedMessage: reasons([
      [rejected, 'spans without a valid trace or span id'],
      [unmappable, 'spans that could not be mapped'],
    ]),
  };
}

function spanFragment(
  source: SourceSpan,
  spanMappers: readonly SpanMapper[],
  options: FragmentOptions,
): CaptureFragment {
  const { span } = source;
  const mapper = spanMappers.find((candidate) => candidate.recognises(source));
  const fragment = create(CaptureFragmentSchema, {
    meta: eventMeta({
      tenantId: options.tenantId,
      producer: options.producer,
      occurredAt: timestamp(span.endTimeUnixNano || span.startTimeUnixNano),
    }),
    traceId: hex(span.traceId),
    spanId: hex(span.spanId),
    parentSpanId: hex(span.parentSpanId),
  });
  if (mapper !== undefined) {
    fragment.kind = {
      case: 'call',
      value: create(CallFragmentSchema, callOf(source, mapper, options)),
    };
  } else {
    const step = stepOf(source, spanMappers);
    options.guard.step(step, options.tenantId);
    fragment.kind = { case: 'step', value: step };
  }
  return fragment;
}

/** `3 spans without …; 1 span that …` for the counts that are not zero. */
function reasons(counts: readonly (readonly [number, string])[]): string {
  return counts
    .filter(([count]) => count > 0)
    .map(([count, reason]) => `${String(count)} ${reason}`)
    .join('; ');
}

/** What an event holds, recorded before its content may be encrypted. */
function eventKindOf({ content }: ContentEventFragment): ContentEventKind {
  if (content.case !== 'plainContent') return ContentEventKind.UNSPECIFIED;
  if (content.value.outputMessages.length > 0) return ContentEventKind.OUTPUT_MESSAGE;
  if (content.value.inputMessages.length > 0) return ContentEventKind.INPUT_MESSAGE;
  return ContentEventKind.SYSTEM_INSTRUCTIONS;
}

/**
 * The content events of a logs export (OTel GenAI semconv ≤ 1.36), each bound to the span of
 * its call; ordinary log records are ignored. An event without a span cannot be joined to any
 * call, so it is rejected.
 */
export function logFragments(
  request: otlpLogsService.ExportLogsServiceRequest,
  options: FragmentOptions,
): Fragments {
  const logMappers = options.logMappers ?? defaultLogMappers;
  const fragments: CaptureFragment[] = [];
  let ignored = 0;
  let rejected = 0;
  let unmappable = 0;
  let sequence = 0;
  for (const source of sourceLogRecords(request)) {
    try {
      const mapper = logMappers.find((candidate) => candidate.recognises(source));
      if (mapper === undefined) {
        ignored += 1;
      } else if (!validIds(source.record.traceId, source.record.spanId)) {
        rejected += 1;
      } else {
        fragments.push(eventFragment(source, mapper, sequence++, options));
      }
    } catch {
      // One record no mapper can make sense of must not sink the export it came in.
      unmappable += 1;
    }
  }
  return {
    fragments,
    ignored,
    rejected: rejected + unmappable,
    rejectedMessage: reasons([
      [rejected, 'GenAI events without a valid trace or span id to join'],
      [unmappable, 'GenAI events that could not be mapped'],
    ]),
  };
}

function eventFragment(
  source: SourceLogRecord,
  mapper: LogMapper,
  sequence: number,
  options: FragmentOptions,
): CaptureFragment {
  const { record } = source;
  const traceId = hex(record.traceId);
  const spanId = hex(record.spanId);
  const event = create(ContentEventFragmentSchema, {
    ...mapper.map(source, options.mapContext),
    sequence,
  });
  event.kind = eventKindOf(event);
  options.guard.event(event, options.tenantId, callIdOf(options.tenantId, traceId, spanId));
  return create(CaptureFragmentSchema, {
    meta: eventMeta({
      tenantId: options.tenantId,
      producer: options.producer,
      occurredAt: timestamp(record.timeUnixNano || record.observedTimeUnixNano),
    }),
    traceId,
    spanId,
    kind: { case: 'event', value: event },
  });
}
