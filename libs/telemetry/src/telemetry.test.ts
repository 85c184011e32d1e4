import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { context, diag, metrics, propagation, trace } from '@opentelemetry/api';
import { ErrorCode } from '@understudy/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { withSpan } from './span.js';
import { startTelemetry, type Telemetry, type TelemetryOptions } from './telemetry.js';

type Line = Record<string, unknown>;

let running: Telemetry | undefined;

async function start(
  options: Partial<TelemetryOptions> = {},
): Promise<{ telemetry: Telemetry; lines: Line[] }> {
  const lines: Line[] = [];
  const logger = createLogger('router', {
    destination: { write: (line: string) => lines.push(JSON.parse(line) as Line) },
  });
  running = await startTelemetry({
    serviceName: 'router',
    serviceVersion: '1.2.3',
    environment: 'test',
    logger,
    ops: { host: '127.0.0.1', port: 0 },
    ...options,
  });
  return { telemetry: running, lines };
}

async function scrape(telemetry: Telemetry): Promise<string> {
  const response = await fetch(`${telemetry.ops.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

describe('startTelemetry', () => {
  it('serves counters recorded through @opentelemetry/api, process metrics and the resource', async () => {
    const { telemetry } = await start();
    const counter = metrics.getMeter('understudy.test').createCounter('understudy.test.requests', {
      description: 'Requests handled.',
    });
    counter.add(2, { route: 'chat' });
    counter.add(1, { route: 'chat' });

    // Let the event-loop delay sampler take a few samples first.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const text = await scrape(telemetry);
    expect(text).toMatch(/^understudy_test_requests_total\{[^}]*route="chat"[^}]*\} 3$/m);
    expect(text).toMatch(/^process_memory_usage\{[^}]*\} [1-9]\d+$/m);
    expect(text).toMatch(
      /^v8js_memory_heap_used\{[^}]*v8js_heap_space_name="new_space"[^}]*\} \d+$/m,
    );
    expect(text).toMatch(/^process_cpu_time_total\{[^}]*cpu_mode="user"[^}]*\} [\d.]+$/m);
    expect(text).toMatch(/^nodejs_eventloop_delay_p99\{[^}]*\} [\d.e-]+$/m);
    expect(text).toMatch(/^nodejs_eventloop_utilization\{[^}]*\} [\d.e-]+$/m);
    expect(text).toMatch(/^target_info\{[^}]*service_name="router"[^}]*\} 1$/m);
    expect(text).toMatch(/^target_info\{[^}]*service_version="1.2.3"/m);
    expect(text).toMatch(/^target_info\{[^}]*deployment_environment_name="test"/m);
  });

  it('buckets histograms in seconds from milliseconds to minutes', async () => {
    const { telemetry } = await start();
    const duration = metrics
      .getMeter('understudy.test')
      .createHistogram('understudy.test.duration', {
        unit: 's',
      });
    duration.record(0.2);
    duration.record(42);
    const text = await scrape(telemetry);
    expect(text).toMatch(/^understudy_test_duration_bucket\{[^}]*le="0.25"\} 1$/m);
    expect(text).toMatch(/^understudy_test_duration_bucket\{[^}]*le="60"\} 2$/m);
    expect(text).toMatch(/^understudy_test_duration_count\{[^}]*\} 2$/m);
  });

  it('serves health and readiness from the handle registry', async () => {
    const { telemetry } = await start();
    let up = true;
    telemetry.health.register('postgres', () => Promise.resolve({ healthy: up }));
    expect((await fetch(`${telemetry.ops.url}/readyz`)).status).toBe(200);
    up = false;
    expect((await fetch(`${telemetry.ops.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${telemetry.ops.url}/healthz`)).status).toBe(200);
  });

  it('puts trace and span ids on log lines written inside a span', async () => {
    const { telemetry, lines } = await start();
    const tracer = trace.getTracer('understudy.test');
    const ids = await withSpan(tracer, 'route', async (span) => {
      await new Promise((resolve) => setImmediate(resolve));
      telemetry.logger.info({ model: 'm1' }, 'routed');
      return span.spanContext();
    });
    const line = lines.find((entry) => entry['message'] === 'routed');
    expect(line).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId, model: 'm1' });
    expect(ids.traceId).not.toMatch(/^0+$/);
  });

  it('propagates W3C trace context and baggage', async () => {
    await start();
    const carrier: Record<string, string> = {};
    await withSpan(trace.getTracer('understudy.test'), 'publish', () => {
      const withBaggage = propagation.setBaggage(
        context.active(),
        propagation.createBaggage({ tenant: { value: 'acme' } }),
      );
      propagation.inject(withBaggage, carrier);
    });
    expect(carrier['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(carrier['baggage']).toBe('tenant=acme');
    const extracted = propagation.extract(context.active(), carrier);
    expect(trace.getSpanContext(extracted)?.traceId).toBe(carrier['traceparent']?.split('-')[1]);
  });

  it('refuses a second start, shuts down idempotently and can start again', async () => {
    const { telemetry, lines } = await start();
    await expect(start()).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });

    await Promise.all([telemetry.shutdown(), telemetry.shutdown()]);
    expect(telemetry.health.shuttingDown).toBe(true);
    await expect(fetch(`${telemetry.ops.url}/healthz`)).rejects.toThrow();
    // The API is back to no-ops: spans are no longer sampled.
    expect(trace.getTracer('x').startSpan('after').isRecording()).toBe(false);
    expect(lines.some((line) => line['message'] === 'telemetry started')).toBe(true);

    const again = await start();
    expect((await fetch(`${again.telemetry.ops.url}/healthz`)).status).toBe(200);
  });

  it('uninstalls itself when the ops port is taken', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as AddressInfo;
    try {
      await expect(start({ ops: { host: '127.0.0.1', port } })).rejects.toMatchObject({
        code: ErrorCode.FailedPrecondition,
      });
      expect(trace.getTracer('x').startSpan('after').isRecording()).toBe(false);
      const { telemetry } = await start();
      expect((await fetch(`${telemetry.ops.url}/healthz`)).status).toBe(200);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('rejects an invalid OTLP endpoint', async () => {
    await expect(start({ otlpEndpoint: 'not a url' })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
  });

  it('logs a failed flush instead of throwing from shutdown', async () => {
    const collector = createServer((_request, response) => {
      response.writeHead(400).end();
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    try {
      const { telemetry, lines } = await start({ otlpEndpoint: `http://127.0.0.1:${port}` });
      await withSpan(trace.getTracer('understudy.test'), 'lost', () => undefined);
      await telemetry.shutdown();
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 'warn', message: 'telemetry flush failed' }),
      );
    } finally {
      collector.closeAllConnections();
      await new Promise((resolve) => collector.close(resolve));
    }
  });

  it('routes OpenTelemetry diagnostics into the JSON log', async () => {
    const { lines } = await start();
    diag.error('export failed', new Error('socket hang up'), { attempt: 2 });
    diag.info('too chatty to keep');
    expect(lines.filter((line) => line['component'] === 'opentelemetry')).toEqual([
      expect.objectContaining({
        level: 'error',
        message: 'export failed',
        err: expect.objectContaining({ message: 'socket hang up' }) as unknown,
        args: [{ attempt: 2 }],
      }),
    ]);
  });

  it('sends spans as OTLP protobuf to <endpoint>/v1/traces and flushes them on shutdown', async () => {
    const received: { path: string; contentType: string; body: Buffer }[] = [];
    const collector: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        received.push({
          path: request.url ?? '',
          contentType: request.headers['content-type'] ?? '',
          body,
        });
        response.writeHead(200, { 'content-type': 'application/x-protobuf' });
        response.end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;

    try {
      const { telemetry } = await start({ otlpEndpoint: `http://127.0.0.1:${port}/otlp/` });
      await withSpan(trace.getTracer('understudy.test'), 'train.lora', () => undefined);
      await telemetry.shutdown();

      expect(received).toHaveLength(1);
      const [request] = received;
      expect(request?.path).toBe('/otlp/v1/traces');
      expect(request?.contentType).toBe('application/x-protobuf');
      const body = request?.body.toString('latin1') ?? '';
      expect(body).toContain('router');
      expect(body).toContain('1.2.3');
      expect(body).toContain('train.lora');
    } finally {
      collector.closeAllConnections();
      await new Promise((resolve) => collector.close(resolve));
    }
  });
});
