import { context, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { withSpan } from './span.js';

const exporter = new InMemorySpanExporter();
const tracer = new TracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
}).getTracer('test');

afterEach(() => {
  exporter.reset();
});

function onlySpan() {
  const spans = exporter.getFinishedSpans();
  expect(spans).toHaveLength(1);
  return spans[0]!;
}

describe('withSpan', () => {
  it('returns the result and ends the span with its attributes', async () => {
    const result = await withSpan(
      tracer,
      'dataset.build',
      (span) => {
        span.setAttribute('rows', 3);
        return 'built';
      },
      { 'understudy.task.id': 't1' },
    );
    expect(result).toBe('built');
    const span = onlySpan();
    expect(span.name).toBe('dataset.build');
    expect(span.ended).toBe(true);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toEqual({ 'understudy.task.id': 't1', rows: 3 });
  });

  it('records a failure and rethrows the same error', async () => {
    const error = new UnderstudyError(ErrorCode.Unavailable, 'broker down');
    await expect(
      withSpan(tracer, 'publish', async () => {
        await Promise.resolve();
        throw error;
      }),
    ).rejects.toBe(error);
    const span = onlySpan();
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'broker down' });
    expect(span.attributes['error.type']).toBe('UNAVAILABLE');
    expect(span.events[0]?.name).toBe('exception');
    // The SDK reports an error's `code` as its exception type.
    expect(span.events[0]?.attributes).toMatchObject({
      'exception.type': 'UNAVAILABLE',
      'exception.message': 'broker down',
    });
  });

  it('records plain errors by name and non-errors as _OTHER', async () => {
    await expect(withSpan(tracer, 'a', () => Promise.reject(new TypeError('bad')))).rejects.toThrow(
      'bad',
    );
    expect(exporter.getFinishedSpans()[0]?.attributes['error.type']).toBe('TypeError');
    exporter.reset();
    await expect(
      withSpan(tracer, 'b', () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- third-party code may throw anything
        throw 'raw';
      }),
    ).rejects.toBe('raw');
    expect(onlySpan().status).toEqual({ code: SpanStatusCode.ERROR, message: 'raw' });
    expect(onlySpan().attributes['error.type']).toBe('_OTHER');
  });

  it('uses the given parent context and span options', async () => {
    const parent = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
    };
    const extracted = trace.setSpanContext(context.active(), parent);
    await withSpan(
      tracer,
      'consume',
      () => undefined,
      {},
      { parent: extracted, kind: SpanKind.CONSUMER },
    );
    const span = onlySpan();
    expect(span.kind).toBe(SpanKind.CONSUMER);
    expect(span.spanContext().traceId).toBe(parent.traceId);
    expect(span.parentSpanContext?.spanId).toBe(parent.spanId);
  });
});
