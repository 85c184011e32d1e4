import { create } from '@bufbuild/protobuf';
import { DurationSchema, TimestampSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  CallCapturedSchema,
  CallStatusCode,
  LlmCallSchema,
  otlpTrace,
  type CallCaptured,
  type otlpTraceService,
} from '@understudy/contracts';
import { attributesOf, text } from './attributes.js';
import { callIdOf } from './call-id.js';
import { mappers as defaultMappers, type SourceSpan, type SpanMapper } from './mappers/index.js';

/** What one export request held: the calls found, and the spans ignored or rejected. */
export interface Capture {
  readonly events: CallCaptured[];
  /** Spans that are not LLM calls (agents, tools, HTTP…): counted, then dropped. */
  readonly ignored: number;
  /** Spans that cannot be a real span, e.g. without ids (a logs export sent to /v1/traces). */
  readonly rejected: number;
}

export interface CaptureOptions {
  readonly tenantId: string;
  /** Names the publishing service in each event's meta. */
  readonly producer: string;
  /** W3C traceparent of the export being handled, so consumers continue its trace. */
  readonly traceParent: string;
  readonly newEventId: () => string;
  readonly mappers?: readonly SpanMapper[];
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const nanosPerSecond = 1_000_000_000n;

function timestamp(unixNanos: bigint): Timestamp {
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

function* sourceSpans(request: otlpTraceService.ExportTraceServiceRequest): Generator<SourceSpan> {
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

/** `https://opentelemetry.io/schemas/1.37.0` → `1.37.0`. */
function semconvVersion(schemaUrl: string): string {
  return /\/schemas\/(\d+\.\d+\.\d+)$/.exec(schemaUrl)?.[1] ?? '';
}

function toEvent(source: SourceSpan, mapper: SpanMapper, options: CaptureOptions): CallCaptured {
  const { span, attributes, resource } = source;
  const traceId = hex(span.traceId);
  const spanId = hex(span.spanId);
  const parentSpanId = hex(span.parentSpanId);
  const { call, context } = mapper.map(source);
  const errorType = text(attributes['error.type']) ?? '';
  const failed = span.status?.code === otlpTrace.Status_StatusCode.ERROR || errorType !== '';
  const end = span.endTimeUnixNano >= span.startTimeUnixNano ? span.endTimeUnixNano : undefined;
  return create(CallCapturedSchema, {
    meta: {
      eventId: options.newEventId(),
      tenantId: options.tenantId,
      occurredAt: timestamp(end ?? span.startTimeUnixNano),
      producer: options.producer,
      traceParent: options.traceParent,
    },
    call: create(LlmCallSchema, {
      ...call,
      tenantId: options.tenantId,
      traceId,
      spanId,
      callId: callIdOf(options.tenantId, traceId, spanId),
      context: {
        ...context,
        serviceName: text(resource['service.name']) ?? '',
        parentSpanId,
        // Only the parent is known from the span itself; farther ancestors arrive in other spans.
        ancestorSpanIds: parentSpanId === '' ? [] : [parentSpanId],
      },
      timing: {
        startTime: timestamp(span.startTimeUnixNano),
        ...(end !== undefined && { latency: duration(end - span.startTimeUnixNano) }),
      },
      status: {
        code: failed ? CallStatusCode.ERROR : CallStatusCode.OK,
        errorType,
        errorMessage: failed ? (span.status?.message ?? '') : '',
      },
      source: {
        format: mapper.format,
        version: semconvVersion(source.schemaUrl) || source.scopeVersion,
        scopeName: source.scopeName,
        scopeVersion: source.scopeVersion,
      },
    }),
  });
}

/**
 * The inference gateway's spans name who answered in `understudy.route`. A small model's answer
 * (`slm`, or a `shadow` copy) is not the teacher's, and students must not learn from students;
 * the LLM's answers (`llm`, `llm-fallback`) are captured like any agent's call.
 */
const studentRoutes = new Set(['slm', 'shadow']);

/** Finds the LLM calls of an OTLP trace export, each mapped by the first format that knows it. */
export function captureCalls(
  request: otlpTraceService.ExportTraceServiceRequest,
  options: CaptureOptions,
): Capture {
  const mappers = options.mappers ?? defaultMappers;
  const events: CallCaptured[] = [];
  let ignored = 0;
  let rejected = 0;
  for (const source of sourceSpans(request)) {
    if (source.span.traceId.length !== 16 || source.span.spanId.length !== 8) {
      rejected += 1;
      continue;
    }
    const mapper = mappers.find((candidate) => candidate.recognises(source));
    const route = text(source.attributes['understudy.route']);
    if (mapper === undefined || (route !== undefined && studentRoutes.has(route))) {
      ignored += 1;
      continue;
    }
    events.push(toEvent(source, mapper, options));
  }
  return { events, ignored, rejected };
}
