import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { create, fromBinary, toBinary, toJsonString } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import {
  googleRpc,
  googleRpcDetails,
  otlpLogsService,
  otlpTrace,
  otlpTraceService,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { silentLogger } from '@understudy/telemetry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IngestResult } from '../domain/ingest.js';
import { decodedSizeOf } from '../domain/otlp-codec.js';
import { listen, type HttpListener } from '../drivers/http-server.js';
import type { OtlpEdge } from '../edge/otlp-edge.js';
import {
  logsRequest,
  RecordingIngest,
  tenantKeys,
  testEdge,
  userMessageRecord,
} from '../edge/testing/fixtures.js';
import { chatSpan, exportRequest, span } from '../testing/otlp-requests.js';
import { OtlpHttpHandler } from './otlp-http.js';

const { ExportTraceServiceRequestSchema, ExportTraceServiceResponseSchema } = otlpTraceService;
const { ExportLogsServiceRequestSchema, ExportLogsServiceResponseSchema } = otlpLogsService;
const key = 'acme-key';
const protobuf = { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` };
const json = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
const maxBodyBytes = 64 * 1024;

function serve(edge: OtlpEdge): Promise<HttpListener> {
  return listen('127.0.0.1', 0, new OtlpHttpHandler(edge).handle, silentLogger);
}

async function post(
  server: HttpListener,
  body: Uint8Array | string,
  headers: Record<string, string>,
  path = '/v1/traces',
) {
  const response = await fetch(`http://127.0.0.1:${server.port}${path}`, {
    method: 'POST',
    headers,
    body,
  });
  return { response, body: new Uint8Array(await response.arrayBuffer()) };
}

/** Sends headers and part of a body, never the rest: the answer must come without it. */
function postUnfinished(
  server: HttpListener,
  headers: Record<string, string>,
  sentBytes = 1024,
): Promise<{ status: number; connection: string | undefined; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port: server.port, path: '/v1/traces', method: 'POST', headers },
      (response) => {
        resolve({
          status: response.statusCode ?? 0,
          connection: response.headers.connection,
          retryAfter: response.headers['retry-after'],
        });
        response.resume();
        request.destroy();
      },
    );
    request.on('error', reject);
    request.write(Buffer.alloc(sentBytes));
  });
}

const rpcStatus = (bytes: Uint8Array) => fromBinary(googleRpc.StatusSchema, bytes);
const retryDelayOf = (status: googleRpc.Status) =>
  status.details.map((d) => anyUnpack(d, googleRpcDetails.RetryInfoSchema)?.retryDelay?.seconds);
const traceBody = () => toBinary(ExportTraceServiceRequestSchema, exportRequest([chatSpan()]));
/** OTLP/JSON as exporters write it: ids in hex. */
const hexIds = (document: string) =>
  document.replace(
    /"(traceId|spanId)":"([^"]*)"/g,
    (_match, field: string, base64: string) =>
      `"${field}":"${Buffer.from(base64, 'base64').toString('hex')}"`,
  );

describe('OTLP/HTTP export', () => {
  const ingest = new RecordingIngest();
  let server: HttpListener;

  beforeAll(async () => {
    server = await serve(testEdge(ingest, { limits: { maxBodyBytes } }));
  });

  afterAll(async () => {
    await server.close(1_000);
  });

  afterEach(() => {
    ingest.received.length = 0;
    ingest.answer = () => Promise.resolve({ rejected: 0, message: '' });
  });

  it('hands a protobuf trace export to the ingest and answers a protobuf success', async () => {
    const call = chatSpan();
    const request = exportRequest([call, span({ name: 'GET /' })]);
    const { response, body } = await post(
      server,
      toBinary(ExportTraceServiceRequestSchema, request),
      protobuf,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-protobuf');
    expect(fromBinary(ExportTraceServiceResponseSchema, body).partialSuccess).toBeUndefined();
    expect(ingest.received).toHaveLength(1);
    expect(ingest.received[0]).toMatchObject({ signal: 'traces', tenantId: 'acme' });
    expect(ingest.received[0]?.request).toEqual(request);
  });

  it('takes OTLP/JSON and answers in JSON, with the key in x-understudy-key', async () => {
    const call = chatSpan();
    const document = toJsonString(ExportTraceServiceRequestSchema, exportRequest([call]));
    const { response, body } = await post(server, hexIds(document), {
      'content-type': 'application/json',
      'x-understudy-key': key,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(Buffer.from(body).toString())).toEqual({});
    const received = ingest.received[0];
    expect(received?.signal).toBe('traces');
    if (received?.signal !== 'traces') return;
    expect(received.request.resourceSpans[0]?.scopeSpans[0]?.spans[0]?.traceId).toEqual(
      call.traceId,
    );
  });

  it('accepts gzip bodies', async () => {
    const { response } = await post(server, gzipSync(traceBody()), {
      ...protobuf,
      'content-encoding': 'gzip',
    });
    expect(response.status).toBe(200);
    expect(ingest.received).toHaveLength(1);
  });

  it('takes logs exports on /v1/logs in protobuf, JSON and gzip', async () => {
    const record = userMessageRecord();
    const request = logsRequest([record]);
    const binary = toBinary(ExportLogsServiceRequestSchema, request);
    const document = hexIds(toJsonString(ExportLogsServiceRequestSchema, request));
    const answers = [
      await post(server, binary, protobuf, '/v1/logs'),
      await post(server, document, json, '/v1/logs'),
      await post(server, gzipSync(binary), { ...protobuf, 'content-encoding': 'gzip' }, '/v1/logs'),
    ];
    expect(answers.map(({ response }) => response.status)).toEqual([200, 200, 200]);
    expect(fromBinary(ExportLogsServiceResponseSchema, answers[0]!.body).partialSuccess).toBe(
      undefined,
    );
    expect(JSON.parse(Buffer.from(answers[1]!.body).toString())).toEqual({});
    expect(ingest.received.map((r) => [r.signal, r.tenantId])).toEqual([
      ['logs', 'acme'],
      ['logs', 'acme'],
      ['logs', 'acme'],
    ]);
    for (const received of ingest.received) expect(received.request).toEqual(request);
  });

  it('passes the ingest partial success through, per signal and encoding', async () => {
    ingest.answer = () => Promise.resolve({ rejected: 2, message: '2 spans without ids' });
    const traces = await post(server, traceBody(), protobuf);
    expect(traces.response.status).toBe(200);
    expect(fromBinary(ExportTraceServiceResponseSchema, traces.body).partialSuccess).toMatchObject({
      rejectedSpans: 2n,
      errorMessage: '2 spans without ids',
    });

    ingest.answer = () => Promise.resolve({ rejected: 1, message: 'no trace id' });
    const logsJson = toJsonString(
      ExportLogsServiceRequestSchema,
      logsRequest([userMessageRecord()]),
    );
    const logs = await post(server, hexIds(logsJson), json, '/v1/logs');
    expect(JSON.parse(Buffer.from(logs.body).toString())).toEqual({
      partialSuccess: { rejectedLogRecords: '1', errorMessage: 'no trace id' },
    });
  });

  it('answers 400 with a google.rpc.Status in the request encoding for undecodable bodies', async () => {
    const binary = await post(server, new Uint8Array([0x0a, 0xff, 0xff]), protobuf);
    expect(binary.response.status).toBe(400);
    expect(rpcStatus(binary.body)).toMatchObject({ code: 3 });
    expect(rpcStatus(binary.body).message).toMatch(/^undecodable OTLP protobuf trace export/);

    const text = await post(server, '{"resourceLogs":', json, '/v1/logs');
    expect(text.response.status).toBe(400);
    expect(JSON.parse(Buffer.from(text.body).toString())).toMatchObject({ code: 3 });

    const gzip = await post(server, 'not gzip', { ...protobuf, 'content-encoding': 'gzip' });
    expect(gzip.response.status).toBe(400);
    expect(rpcStatus(gzip.body).message).toBe('body is not valid gzip');
    expect(ingest.received).toHaveLength(0);
  });

  it('answers 401 to a missing or unknown key without reading the body', async () => {
    const { 'content-type': contentType } = protobuf;
    for (const headers of [
      { 'content-type': contentType },
      { 'content-type': contentType, authorization: 'Bearer wrong' },
      { 'content-type': contentType, 'x-understudy-key': 'wrong' },
    ]) {
      expect(await postUnfinished(server, { ...headers, 'content-length': '1000000' })).toEqual({
        status: 401,
        connection: 'close',
        retryAfter: undefined,
      });
    }
    const { response, body } = await post(server, 'x', { 'content-type': contentType });
    expect(response.status).toBe(401);
    expect(rpcStatus(body)).toMatchObject({ code: 16, message: 'missing or unknown API key' });
  });

  it('answers 413 to bodies over the limit, declared, streamed or decompressed', async () => {
    const declared = await postUnfinished(server, {
      ...protobuf,
      'content-length': String(maxBodyBytes + 1),
    });
    expect(declared).toMatchObject({ status: 413, connection: 'close' });

    const streamed = await postUnfinished(
      server,
      { ...protobuf, 'transfer-encoding': 'chunked' },
      maxBodyBytes + 1024,
    );
    expect(streamed).toMatchObject({ status: 413, connection: 'close' });

    const bomb = gzipSync(Buffer.alloc(maxBodyBytes * 4));
    const decompressed = await post(server, bomb, { ...protobuf, 'content-encoding': 'gzip' });
    expect(bomb.byteLength).toBeLessThan(maxBodyBytes);
    expect(decompressed.response.status).toBe(413);
    // RESOURCE_EXHAUSTED without RetryInfo: sending the same export again cannot succeed.
    expect(rpcStatus(decompressed.body)).toMatchObject({ code: 8, details: [] });
    expect(decompressed.response.headers.get('retry-after')).toBeNull();
  });

  it('answers 413 to an export that would decode past the in-flight budget, without decoding it', async () => {
    // Empty spans: 2 bytes each on the wire, hundreds once decoded.
    const spans = Array.from({ length: 30_000 }, () => create(otlpTrace.SpanSchema));
    const body = toBinary(ExportTraceServiceRequestSchema, exportRequest(spans));
    expect(body.byteLength).toBeLessThan(maxBodyBytes);
    const { response, body: answer } = await post(server, body, protobuf);
    expect(response.status).toBe(413);
    expect(rpcStatus(answer)).toMatchObject({ code: 8, details: [] });
    expect(rpcStatus(answer).message).toMatch(/^export would take about \d+ bytes decoded/);
    expect(ingest.received).toHaveLength(0);
  });

  it('answers 415, 404 and 405 to what is not an OTLP export', async () => {
    expect(
      (await post(server, 'x', { ...protobuf, 'content-type': 'text/plain' })).response.status,
    ).toBe(415);
    const brotli = await post(server, 'x', { ...protobuf, 'content-encoding': 'br' });
    expect(brotli.response.status).toBe(415);
    expect(brotli.response.headers.get('accept-encoding')).toBe('gzip');
    expect((await post(server, 'x', protobuf, '/v1/metrics')).response.status).toBe(404);
    const get = await fetch(`http://127.0.0.1:${server.port}/v1/logs`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('answers 503 with Retry-After when the ingest cannot make the export durable', async () => {
    ingest.answer = () =>
      Promise.reject(new UnderstudyError(ErrorCode.Unavailable, 'Kafka: broker down'));
    const { response, body } = await post(server, traceBody(), protobuf);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(rpcStatus(body)).toMatchObject({ code: 14, message: 'Kafka: broker down' });
    expect(retryDelayOf(rpcStatus(body))).toEqual([5n]);
  });

  it('answers 500 without details when the ingest fails unexpectedly', async () => {
    ingest.answer = () => Promise.reject(new Error('mapper bug with secrets in it'));
    const { response, body } = await post(server, traceBody(), protobuf);
    expect(response.status).toBe(500);
    expect(rpcStatus(body)).toMatchObject({ code: 13, message: 'internal error' });
  });
});

describe('OTLP/HTTP limits and back-pressure', () => {
  it('answers 503 once the ingest deadline passes, never 200, and frees the bytes only when the ingest lets go', async () => {
    const ingest = new RecordingIngest();
    let settle: (result: IngestResult) => void = () => undefined;
    ingest.answer = () =>
      new Promise((resolve) => {
        settle = resolve;
      });
    const body = traceBody();
    // Room for one export in flight, decoded: a second one while the first is held is refused.
    const edge = testEdge(ingest, {
      ingestTimeoutMs: 200,
      maxInFlightBytes: decodedSizeOf('traces', body, 'protobuf') + 10,
      limits: { maxBodyBytes: body.byteLength + 10 },
    });
    const server = await serve(edge);
    try {
      const first = await post(server, body, protobuf);
      expect(first.response.status).toBe(503);
      expect(rpcStatus(first.body).message).toBe('ingest did not acknowledge within 200 ms');

      const second = await post(server, body, protobuf);
      expect(second.response.status).toBe(503);
      expect(second.response.headers.get('retry-after')).toBe('5');
      expect(rpcStatus(second.body).message).toBe('collector is at its in-flight limit');
      expect(ingest.received).toHaveLength(1);

      settle({ rejected: 0, message: '' });
      ingest.answer = () => Promise.resolve({ rejected: 0, message: '' });
      await expect.poll(async () => (await post(server, body, protobuf)).response.status).toBe(200);
    } finally {
      await server.close(1_000);
    }
  });

  it('refuses a declared body that does not fit in flight before reading it', async () => {
    const ingest = new RecordingIngest();
    let settle: (result: IngestResult) => void = () => undefined;
    ingest.answer = () =>
      new Promise((resolve) => {
        settle = resolve;
      });
    const request = exportRequest([chatSpan({ attributes: { pad: 'x'.repeat(1_000) } })]);
    const body = toBinary(ExportTraceServiceRequestSchema, request);
    // Room for that export decoded, and for less than 1500 bytes more.
    const maxInFlightBytes = decodedSizeOf('traces', body, 'protobuf') + 1_000;
    const edge = testEdge(ingest, { maxInFlightBytes, limits: { maxBodyBytes: 2_000 } });
    const server = await serve(edge);
    // The ingest holds this export, and its bytes, until the test lets it go.
    const held = post(server, body, protobuf);
    try {
      await expect.poll(() => ingest.received).toHaveLength(1);
      const refused = await postUnfinished(server, { ...protobuf, 'content-length': '1500' });
      expect(refused).toEqual({ status: 503, connection: 'close', retryAfter: '5' });
    } finally {
      // Answered before the server closes: a request still open then would be cut off.
      settle({ rejected: 0, message: '' });
      expect((await held).response.status).toBe(200);
      await server.close(1_000);
    }
  });

  it('throttles a tenant over its request rate with 429 and Retry-After, and not the others', async () => {
    const ingest = new RecordingIngest();
    const clock = { ms: 0 };
    const edge = testEdge(ingest, {
      now: () => clock.ms,
      limits: { requestsPerSecond: 2 },
    });
    const server = await serve(edge);
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await post(server, traceBody(), protobuf)).response);
      expect(statuses.map((r) => r.status)).toEqual([200, 200, 429]);
      expect(statuses[2]?.headers.get('retry-after')).toBe('1');
      const throttled = await post(server, traceBody(), protobuf);
      expect(rpcStatus(throttled.body)).toMatchObject({
        code: 8,
        message: 'tenant is over its requests per second limit',
      });
      expect(retryDelayOf(rpcStatus(throttled.body))).toEqual([1n]);
      // Refused before its body is read.
      expect(await postUnfinished(server, { ...protobuf, 'content-length': '5000' })).toEqual({
        status: 429,
        connection: 'close',
        retryAfter: '1',
      });

      const globex = { ...protobuf, authorization: 'Bearer globex-key' };
      expect((await post(server, traceBody(), globex)).response.status).toBe(200);

      clock.ms += 1_000;
      expect((await post(server, traceBody(), protobuf)).response.status).toBe(200);
      expect(ingest.received.map((r) => r.tenantId)).toEqual(['acme', 'acme', 'globex', 'acme']);
    } finally {
      await server.close(1_000);
    }
  });

  it('throttles a tenant over its bytes per second until it has paid them off', async () => {
    const ingest = new RecordingIngest();
    const clock = { ms: 0 };
    const body = traceBody();
    const edge = testEdge(ingest, {
      now: () => clock.ms,
      limits: { bytesPerSecond: body.byteLength },
    });
    const server = await serve(edge);
    try {
      expect((await post(server, body, protobuf)).response.status).toBe(200);
      const refused = await post(server, body, protobuf);
      expect(refused.response.status).toBe(429);
      expect(rpcStatus(refused.body).message).toBe('tenant is over its bytes per second limit');
      clock.ms += 1_000;
      expect((await post(server, body, protobuf)).response.status).toBe(200);
    } finally {
      await server.close(1_000);
    }
  });

  it('takes per-tenant overrides from the keys file', async () => {
    const ingest = new RecordingIngest();
    const edge = testEdge(ingest, {
      tenants: tenantKeys(
        { acme: 'acme-key', globex: 'globex-key' },
        { globex: { maxBodyBytes: 200 } },
      ),
    });
    const server = await serve(edge);
    try {
      const body = traceBody();
      expect(body.byteLength).toBeGreaterThan(200);
      expect((await post(server, body, protobuf)).response.status).toBe(200);
      const globex = { ...protobuf, authorization: 'Bearer globex-key' };
      expect((await post(server, body, globex)).response.status).toBe(413);
    } finally {
      await server.close(1_000);
    }
  });
});
