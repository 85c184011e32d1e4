import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { SpanKind, context, metrics, propagation, trace, type Span } from '@opentelemetry/api';
import {
  DataPointType,
  MeterProvider,
  MetricReader,
  type HistogramMetricData,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from './client.js';
import type { GrpcServer } from './server.js';
import { Echo, type EchoService } from './testing/echo.js';
import { echoImpl, rawEchoImpl, startServer } from './testing/harness.js';

/** Collects on demand, the way a Prometheus scrape would. */
class TestReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const exporter = new InMemorySpanExporter();
const reader = new TestReader();
let server: GrpcServer;
let client: Client<EchoService>;
let handlerSpan: Span | undefined;

// The SDK pieces the telemetry library installs in services, installed here for this file only.
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }),
  );
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

  const started = await startServer((s) =>
    s.register(Echo, {
      ...echoImpl,
      say: (request) => {
        handlerSpan = trace.getActiveSpan();
        if (request.value === 'fail') throw new UnderstudyError(ErrorCode.Unavailable, 'later');
        return { value: request.value };
      },
    }),
  );
  server = started.server;
  client = createClient(Echo, started.address);
});

afterAll(async () => {
  client.close();
  await server.shutdown();
  trace.disable();
  metrics.disable();
  propagation.disable();
  context.disable();
});

describe('trace context', () => {
  it('continues the caller trace in a server span active in the handler', async () => {
    exporter.reset();
    const tracer = trace.getTracer('test');
    const outer = tracer.startSpan('agent step');
    await context.with(trace.setSpan(context.active(), outer), () => client.say({ value: 'x' }));
    outer.end();

    const spans = exporter.getFinishedSpans();
    const serverSpan = spans.find((s) => s.kind === SpanKind.SERVER);
    const clientSpan = spans.find((s) => s.kind === SpanKind.CLIENT);
    expect(serverSpan?.name).toBe('understudy.grpc.testing.v1.Echo/Say');
    expect(clientSpan?.name).toBe('understudy.grpc.testing.v1.Echo/Say');
    expect(clientSpan?.spanContext().traceId).toBe(outer.spanContext().traceId);
    expect(clientSpan?.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(serverSpan?.spanContext().traceId).toBe(outer.spanContext().traceId);
    expect(serverSpan?.parentSpanContext?.spanId).toBe(clientSpan?.spanContext().spanId);
    expect(serverSpan?.parentSpanContext?.isRemote).toBe(true);
    expect(handlerSpan?.spanContext().spanId).toBe(serverSpan?.spanContext().spanId);
    expect(serverSpan?.attributes).toMatchObject({
      'rpc.system.name': 'grpc',
      'rpc.method': 'understudy.grpc.testing.v1.Echo/Say',
      'rpc.status_code': 'OK',
    });
  });

  it('marks server faults as span errors', async () => {
    exporter.reset();
    await expect(client.say({ value: 'fail' })).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
    });
    const serverSpan = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER);
    expect(serverSpan?.attributes['rpc.status_code']).toBe('UNAVAILABLE');
    expect(serverSpan?.status.code).toBe(2);
  });
});

describe('metrics', () => {
  it('records call durations by method and status on both sides', async () => {
    await client.say({ value: 'ok' });
    await client.say({ value: 'fail' }).catch(() => undefined);
    const { resourceMetrics } = await reader.collect();
    const histograms = resourceMetrics.scopeMetrics
      .filter((s) => s.scope.name === 'understudy.grpc')
      .flatMap((s) => s.metrics) as HistogramMetricData[];
    const byName = new Map(histograms.map((m) => [m.descriptor.name, m]));
    for (const name of ['rpc.server.call.duration', 'rpc.client.call.duration']) {
      const metric = byName.get(name);
      expect(metric?.dataPointType).toBe(DataPointType.HISTOGRAM);
      expect(metric?.descriptor.unit).toBe('s');
      const points = metric?.dataPoints ?? [];
      const ok = points.find(
        (p) =>
          p.attributes['rpc.method'] === 'understudy.grpc.testing.v1.Echo/Say' &&
          p.attributes['rpc.status_code'] === 'OK',
      );
      expect(ok?.value.count).toBeGreaterThanOrEqual(1);
      expect(points.some((p) => p.attributes['rpc.status_code'] === 'UNAVAILABLE')).toBe(true);
    }
  });
});

describe('calls that end before their handler', () => {
  let guarded: GrpcServer;
  let address: string;
  let authenticatedIn: Span | undefined;
  let handled = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });

  beforeAll(async () => {
    const started = await startServer(
      (s) =>
        s.registerRaw(Echo, {
          ...rawEchoImpl,
          say: (request) => {
            handled++;
            return request;
          },
        }),
      {
        authenticate: async (metadata) => {
          authenticatedIn = trace.getActiveSpan();
          const [key] = metadata.get('x-understudy-key');
          if (key === 'slow') await gate;
          else if (key !== 'k-1') {
            throw new UnderstudyError(ErrorCode.Unauthenticated, 'missing or bad key');
          }
          return { subject: 'svc-a' };
        },
      },
    );
    guarded = started.server;
    address = started.address;
  });

  afterAll(async () => {
    release();
    await guarded.shutdown();
  });

  const serverSpan = () => exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER);

  it('traces a refused caller in the call span, authentication included', async () => {
    exporter.reset();
    const anonymous = createClient(Echo, address);
    try {
      await expect(anonymous.say({ value: 'x' })).rejects.toMatchObject({
        code: ErrorCode.Unauthenticated,
      });
    } finally {
      anonymous.close();
    }
    const span = serverSpan();
    expect(span?.attributes).toMatchObject({
      'rpc.method': 'understudy.grpc.testing.v1.Echo/Say',
      'rpc.status_code': 'UNAUTHENTICATED',
    });
    expect(span?.parentSpanContext?.isRemote).toBe(true);
    expect(authenticatedIn?.spanContext().spanId).toBe(span?.spanContext().spanId);
    expect(handled).toBe(0);
  });

  it('records a call past its deadline while authenticating, and never runs its handler', async () => {
    exporter.reset();
    const slow = createClient(Echo, address, { metadata: { 'x-understudy-key': 'slow' } });
    try {
      await expect(slow.say({ value: 'x' }, { timeoutMs: 100 })).rejects.toMatchObject({
        code: ErrorCode.DeadlineExceeded,
      });
    } finally {
      slow.close();
    }
    await expect.poll(() => serverSpan()?.attributes['rpc.status_code']).toBe('DEADLINE_EXCEEDED');
    // Authentication succeeding after the call ended lets nothing through.
    release();
    await new Promise(setImmediate);
    expect(handled).toBe(0);
    expect(exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(1);
  });

  it('traces and measures raw calls as typed ones', async () => {
    exporter.reset();
    const keyed = createClient(Echo, address, { metadata: { 'x-understudy-key': 'k-1' } });
    try {
      expect((await keyed.say({ value: 'raw' })).value).toBe('raw');
    } finally {
      keyed.close();
    }
    expect(serverSpan()?.attributes).toMatchObject({
      'rpc.system.name': 'grpc',
      'rpc.method': 'understudy.grpc.testing.v1.Echo/Say',
      'rpc.status_code': 'OK',
    });
    const { resourceMetrics } = await reader.collect();
    const duration = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'rpc.server.call.duration') as HistogramMetricData;
    const statuses = duration.dataPoints
      .filter((p) => p.attributes['rpc.method'] === 'understudy.grpc.testing.v1.Echo/Say')
      .map((p) => p.attributes['rpc.status_code']);
    expect(statuses).toEqual(
      expect.arrayContaining(['OK', 'UNAUTHENTICATED', 'DEADLINE_EXCEEDED']),
    );
  });
});
