import { toBinary } from '@bufbuild/protobuf';
import { credentials, makeGenericClientConstructor, Metadata, type Client } from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { otlpTraceService } from '@understudy/contracts';
import { serviceDefinition, type GrpcServer } from '@understudy/grpc';
import { silentLogger } from '@understudy/telemetry';
import { MetricsProbe } from '@understudy/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestResult } from '../domain/ingest.js';
import { decodedSizeOf } from '../domain/otlp-codec.js';
import { listen, type HttpListener } from '../drivers/http-server.js';
import { RecordingIngest, testEdge } from '../edge/testing/fixtures.js';
import { chatSpan, exportRequest } from '../testing/otlp-requests.js';
import { OtlpGrpcHandler } from './otlp-grpc.js';
import { OtlpHttpHandler } from './otlp-http.js';

const key = 'acme-key';
const traceId = '0af7651916cd43dd8448eb211c80319c';
const traceparent = `00-${traceId}-b7ad6b7169203331-01`;
const exporter = new InMemorySpanExporter();
let probe: MetricsProbe;
const ingest = new RecordingIngest();
const clock = { ms: 0 };
let http: HttpListener;
let grpc: GrpcServer;
let client: Client & {
  export(request: unknown, metadata: Metadata, done: (error: Error | null) => void): void;
};

function grpcExport(
  metadata: Record<string, string>,
  request = exportRequest([chatSpan()]),
): Promise<Error | null> {
  const grpcMetadata = new Metadata();
  for (const [name, value] of Object.entries(metadata)) grpcMetadata.set(name, value);
  return new Promise((resolve) => {
    client.export(request, grpcMetadata, resolve);
  });
}

function httpExport(headers: Record<string, string>) {
  return fetch(`http://127.0.0.1:${http.port}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', ...headers },
    body: toBinary(otlpTraceService.ExportTraceServiceRequestSchema, exportRequest([chatSpan()])),
  });
}

// The SDK pieces the telemetry library installs in services, installed here for this file only.
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }),
  );
  probe = MetricsProbe.install();

  const edge = testEdge(ingest, { now: () => clock.ms, limits: { requestsPerSecond: 2 } });
  http = await listen('127.0.0.1', 0, new OtlpHttpHandler(edge).handle, silentLogger);
  grpc = new OtlpGrpcHandler(edge).createServer({ host: '127.0.0.1', port: 0 });
  await grpc.start();
  const Constructor = makeGenericClientConstructor(
    serviceDefinition(otlpTraceService.TraceService),
    'TraceService',
  );
  client = new Constructor(
    `127.0.0.1:${grpc.port}`,
    credentials.createInsecure(),
  ) as unknown as typeof client;
});

afterAll(async () => {
  client.close();
  await Promise.all([http.close(1_000), grpc.shutdown()]);
  trace.disable();
  probe.uninstall();
  propagation.disable();
  context.disable();
});

describe('OTLP edge telemetry', () => {
  it('traces each export as a SERVER span continuing the caller, with the tenant and never the key', async () => {
    clock.ms += 10_000;
    exporter.reset();
    expect((await httpExport({ authorization: `Bearer ${key}`, traceparent })).status).toBe(200);
    expect(await grpcExport({ authorization: `Bearer ${key}`, traceparent })).toBeNull();
    expect((await httpExport({ authorization: 'Bearer not-a-key' })).status).toBe(401);

    const spans = exporter.getFinishedSpans();
    const httpSpan = spans.find(
      (s) => s.name === 'POST /v1/traces' && s.status.code === SpanStatusCode.OK,
    );
    const grpcSpan = spans.find(
      (s) => s.name === 'opentelemetry.proto.collector.trace.v1.TraceService/Export',
    );
    for (const span of [httpSpan, grpcSpan]) {
      expect(span?.kind).toBe(SpanKind.SERVER);
      expect(span?.spanContext().traceId).toBe(traceId);
      expect(span?.attributes).toMatchObject({
        'understudy.tenant.id': 'acme',
        'otlp.signal': 'traces',
        'understudy.collector.records': 1,
        'understudy.collector.records.rejected': 0,
      });
    }
    expect(grpcSpan?.attributes['rpc.status_code']).toBe('OK');
    const refused = spans.find((s) => s.attributes['error.type'] === 'UNAUTHENTICATED');
    expect(refused?.name).toBe('POST /v1/traces');
    const everything = JSON.stringify(spans.map((s) => [s.attributes, s.events, s.status]));
    expect(everything).not.toContain(key);
    expect(everything).not.toContain('not-a-key');
  });

  it('counts exports by outcome and status, and throttled requests by tenant', async () => {
    clock.ms += 10_000;
    await grpcExport({ authorization: `Bearer ${key}` });
    await grpcExport({ authorization: `Bearer ${key}` });
    await grpcExport({ authorization: `Bearer ${key}` });
    expect((await httpExport({ authorization: `Bearer ${key}` })).status).toBe(429);

    const exports = await probe.points('understudy.collector.exports');
    const count = (attributes: Record<string, unknown>) =>
      exports.find((p) => JSON.stringify(p.attributes) === JSON.stringify(attributes))?.value;
    expect(
      count({ outcome: 'RESOURCE_EXHAUSTED', 'rpc.grpc.status_code': 8, 'otlp.signal': 'traces' }),
    ).toBe(1);
    expect(
      count({
        outcome: 'RESOURCE_EXHAUSTED',
        'http.response.status_code': 429,
        'otlp.signal': 'traces',
      }),
    ).toBe(1);
    expect(
      count({ outcome: 'success', 'rpc.grpc.status_code': 0, 'otlp.signal': 'traces' }),
    ).toBeGreaterThanOrEqual(2);
    const throttled = await probe.points('understudy.collector.throttled');
    expect(throttled).toEqual([
      expect.objectContaining({
        attributes: { 'understudy.tenant.id': 'acme', limit: 'requests' },
        value: 2,
      }),
    ]);
  });

  it('reports the bytes in flight while an export is being ingested', async () => {
    clock.ms += 10_000;
    let settle: (result: IngestResult) => void = () => undefined;
    ingest.answer = () =>
      new Promise((resolve) => {
        settle = resolve;
      });
    const request = exportRequest([chatSpan()]);
    // Held in flight at its estimated decoded size, what it will take on the heap.
    const size = decodedSizeOf(
      'traces',
      toBinary(otlpTraceService.ExportTraceServiceRequestSchema, request),
      'protobuf',
    );
    const answered = grpcExport({ authorization: `Bearer ${key}` }, request);
    const inFlight = async () =>
      (await probe.points('understudy.collector.in_flight_bytes'))[0]?.value;
    await expect.poll(inFlight).toBe(size);
    settle({ rejected: 0, message: '' });
    expect(await answered).toBeNull();
    expect(await inFlight()).toBe(0);
  });
});
