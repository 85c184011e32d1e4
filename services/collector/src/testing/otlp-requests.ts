import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { otlpCommon, otlpTrace, otlpTraceService } from '@understudy/contracts';

/** Builders of OTLP trace exports, shaped as a real SDK exporter sends them. */
export type Plain = string | number | boolean | bigint | Plain[] | { [key: string]: Plain };

export function anyValue(value: Plain): otlpCommon.AnyValue {
  const schema = otlpCommon.AnyValueSchema;
  if (typeof value === 'string') return create(schema, { value: { case: 'stringValue', value } });
  if (typeof value === 'boolean') return create(schema, { value: { case: 'boolValue', value } });
  if (typeof value === 'bigint') return create(schema, { value: { case: 'intValue', value } });
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? create(schema, { value: { case: 'intValue', value: BigInt(value) } })
      : create(schema, { value: { case: 'doubleValue', value } });
  }
  if (Array.isArray(value)) {
    return create(schema, {
      value: { case: 'arrayValue', value: { values: value.map(anyValue) } },
    });
  }
  return create(schema, { value: { case: 'kvlistValue', value: { values: keyValues(value) } } });
}

export function keyValues(attributes: Record<string, Plain>): otlpCommon.KeyValue[] {
  return Object.entries(attributes).map(([key, value]) =>
    create(otlpCommon.KeyValueSchema, { key, value: anyValue(value) }),
  );
}

export interface SpanInit {
  readonly name?: string;
  readonly attributes?: Record<string, Plain>;
  readonly traceId?: Uint8Array;
  readonly spanId?: Uint8Array;
  readonly parentSpanId?: Uint8Array;
  readonly startNanos?: bigint;
  readonly endNanos?: bigint;
  readonly status?: { code: otlpTrace.Status_StatusCode; message?: string };
}

export function span(init: SpanInit = {}): otlpTrace.Span {
  return create(otlpTrace.SpanSchema, {
    name: init.name ?? 'chat gpt-4o',
    kind: otlpTrace.Span_SpanKind.CLIENT,
    traceId: init.traceId ?? new Uint8Array(randomBytes(16)),
    spanId: init.spanId ?? new Uint8Array(randomBytes(8)),
    parentSpanId: init.parentSpanId ?? new Uint8Array(),
    startTimeUnixNano: init.startNanos ?? 1_750_000_000_000_000_000n,
    endTimeUnixNano: init.endNanos ?? 1_750_000_001_500_000_000n,
    attributes: keyValues(init.attributes ?? {}),
    ...(init.status && { status: init.status }),
  });
}

/** A minimal chat call in the semconv ≥ 1.37 attribute form. */
export function chatSpan(init: SpanInit = {}): otlpTrace.Span {
  return span({
    ...init,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.input.messages': JSON.stringify([
        { role: 'user', parts: [{ type: 'text', content: 'Hello' }] },
      ]),
      'gen_ai.output.messages': JSON.stringify([
        { role: 'assistant', parts: [{ type: 'text', content: 'Hi!' }], finish_reason: 'stop' },
      ]),
      ...init.attributes,
    },
  });
}

export interface ExportInit {
  readonly serviceName?: string;
  readonly scopeName?: string;
  readonly scopeVersion?: string;
  readonly schemaUrl?: string;
}

export function exportRequest(
  spans: readonly otlpTrace.Span[],
  init: ExportInit = {},
): otlpTraceService.ExportTraceServiceRequest {
  return create(otlpTraceService.ExportTraceServiceRequestSchema, {
    resourceSpans: [
      {
        resource: {
          attributes: keyValues({ 'service.name': init.serviceName ?? 'support-agent' }),
        },
        scopeSpans: [
          {
            scope: {
              name: init.scopeName ?? '@opentelemetry/instrumentation-openai',
              version: init.scopeVersion ?? '0.5.0',
            },
            schemaUrl: init.schemaUrl ?? 'https://opentelemetry.io/schemas/1.37.0',
            spans: [...spans],
          },
        ],
      },
    ],
  });
}
