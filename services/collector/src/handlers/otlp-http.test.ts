import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { fromBinary, toBinary, toJsonString } from '@bufbuild/protobuf';
import { googleRpc, otlpTraceService, type CallCaptured } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { InProcessDriver, Messaging, topics } from '@understudy/messaging';
import { silentLogger } from '@understudy/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantKeys } from '@understudy/tenancy';
import { listen, type HttpListener } from '../drivers/http-server.js';
import { chatSpan, exportRequest, span } from '../testing/otlp-requests.js';
import { OtlpHttpHandler, type PublishCalls } from './otlp-http.js';

const { ExportTraceServiceRequestSchema, ExportTraceServiceResponseSchema } = otlpTraceService;
const key = 'acme-secret-key';
const tenants = TenantKeys.parse(
  JSON.stringify([{ tenant: 'acme', sha256: createHash('sha256').update(key).digest('hex') }]),
  'keys.json',
);
const protobuf = { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` };
const json = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
const maxBodyBytes = 64 * 1024;

async function serve(publish: PublishCalls, publishTimeoutMs = 2_000): Promise<HttpListener> {
  const handler = new OtlpHttpHandler({
    tenants,
    publish,
    maxBodyBytes,
    publishTimeoutMs,
    producer: 'collector',
  });
  return listen('127.0.0.1', 0, handler.handle, silentLogger);
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
): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port: server.port, path: '/v1/traces', method: 'POST', headers },
      (response) => {
        resolve({ status: response.statusCode ?? 0, connection: response.headers.connection });
        response.resume();
        request.destroy();
      },
    );
    request.on('error', reject);
    request.write(Buffer.alloc(sentBytes));
  });
}

const rpcStatus = (bytes: Uint8Array) => fromBinary(googleRpc.StatusSchema, bytes);

describe('OTLP/HTTP trace export', () => {
  const driver = new InProcessDriver();
  const messaging = new Messaging({ driver, producerName: 'collector' });
  const received: CallCaptured[] = [];
  let server: HttpListener;

  beforeAll(async () => {
    messaging.on(topics.callsCaptured, { group: 'http-test' }, (event) => {
      received.push(event);
    });
    await messaging.start();
    server = await serve((events) => messaging.publishAll(topics.callsCaptured, events));
  });

  afterAll(async () => {
    await server.close(1_000);
    await messaging.stop();
  });

  const callsOfTrace = (traceId: string) => received.filter((e) => e.call?.traceId === traceId);

  it('publishes the calls of a protobuf export and answers a protobuf success', async () => {
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
    const traceId = Buffer.from(call.traceId).toString('hex');
    await expect.poll(() => callsOfTrace(traceId)).toHaveLength(1);
    expect(callsOfTrace(traceId)[0]).toMatchObject({
      meta: { tenantId: 'acme', producer: 'collector' },
      call: { tenantId: 'acme', requestModel: 'gpt-4o', contentCaptured: true },
    });
    expect(callsOfTrace(traceId)[0]?.meta?.eventId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('takes OTLP/JSON and answers in JSON, with the key in x-understudy-key', async () => {
    const call = chatSpan();
    const { response, body } = await post(
      server,
      toJsonString(ExportTraceServiceRequestSchema, exportRequest([call])).replace(
        /"(traceId|spanId)":"([^"]*)"/g,
        (_match, field: string, base64: string) =>
          `"${field}":"${Buffer.from(base64, 'base64').toString('hex')}"`,
      ),
      { 'content-type': 'application/json', 'x-understudy-key': key },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(Buffer.from(body).toString())).toEqual({});
    await expect
      .poll(() => callsOfTrace(Buffer.from(call.traceId).toString('hex')))
      .toHaveLength(1);
  });

  it('accepts gzip bodies', async () => {
    const call = chatSpan();
    const { response } = await post(
      server,
      gzipSync(toBinary(ExportTraceServiceRequestSchema, exportRequest([call]))),
      { ...protobuf, 'content-encoding': 'gzip' },
    );
    expect(response.status).toBe(200);
    await expect
      .poll(() => callsOfTrace(Buffer.from(call.traceId).toString('hex')))
      .toHaveLength(1);
  });

  it('reports spans without ids as a partial success', async () => {
    const request = exportRequest([
      chatSpan({ traceId: new Uint8Array(), spanId: new Uint8Array() }),
    ]);
    const { response, body } = await post(
      server,
      toBinary(ExportTraceServiceRequestSchema, request),
      protobuf,
    );
    expect(response.status).toBe(200);
    expect(fromBinary(ExportTraceServiceResponseSchema, body).partialSuccess).toMatchObject({
      rejectedSpans: 1n,
      errorMessage: '1 spans without a valid trace or span id',
    });
  });

  it('answers 400 with a google.rpc.Status in the request encoding for undecodable bodies', async () => {
    const binary = await post(server, new Uint8Array([0x0a, 0xff, 0xff]), protobuf);
    expect(binary.response.status).toBe(400);
    expect(rpcStatus(binary.body)).toMatchObject({ code: 3 });
    expect(rpcStatus(binary.body).message).toMatch(/^undecodable OTLP protobuf trace export/);

    const text = await post(server, '{"resourceSpans":', json);
    expect(text.response.status).toBe(400);
    expect(JSON.parse(Buffer.from(text.body).toString())).toMatchObject({ code: 3 });

    const gzip = await post(server, 'not gzip', { ...protobuf, 'content-encoding': 'gzip' });
    expect(gzip.response.status).toBe(400);
    expect(rpcStatus(gzip.body).message).toBe('body is not valid gzip');
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
    expect(declared).toEqual({ status: 413, connection: 'close' });

    const streamed = await postUnfinished(
      server,
      { ...protobuf, 'transfer-encoding': 'chunked' },
      maxBodyBytes + 1024,
    );
    expect(streamed).toEqual({ status: 413, connection: 'close' });

    const bomb = gzipSync(Buffer.alloc(maxBodyBytes * 4));
    const decompressed = await post(server, bomb, { ...protobuf, 'content-encoding': 'gzip' });
    expect(bomb.byteLength).toBeLessThan(maxBodyBytes);
    expect(decompressed.response.status).toBe(413);
    expect(rpcStatus(decompressed.body).code).toBe(8);
  });

  it('answers 415, 404 and 405 to what is not an OTLP trace export', async () => {
    expect(
      (await post(server, 'x', { ...protobuf, 'content-type': 'text/plain' })).response.status,
    ).toBe(415);
    expect((await post(server, 'x', protobuf, '/v1/logs')).response.status).toBe(404);
    const get = await fetch(`http://127.0.0.1:${server.port}/v1/traces`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });
});

describe('OTLP/HTTP when Kafka does not acknowledge', () => {
  const exportBody = () => toBinary(ExportTraceServiceRequestSchema, exportRequest([chatSpan()]));

  it('answers 503 with Retry-After when publishing fails', async () => {
    const server = await serve(() =>
      Promise.reject(new UnderstudyError(ErrorCode.Unavailable, 'Kafka: broker down')),
    );
    try {
      const { response, body } = await post(server, exportBody(), protobuf);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(rpcStatus(body)).toMatchObject({ code: 14, message: 'Kafka: broker down' });
    } finally {
      await server.close(1_000);
    }
  });

  it('answers 503 once the publish deadline passes, and never 200', async () => {
    const server = await serve(() => new Promise<void>(() => undefined), 200);
    try {
      const { response, body } = await post(server, exportBody(), protobuf);
      expect(response.status).toBe(503);
      expect(rpcStatus(body).message).toBe('Kafka did not acknowledge within 200 ms');
    } finally {
      await server.close(1_000);
    }
  });

  it('does not publish, and answers 200, when the export holds no LLM call', async () => {
    const server = await serve(() => Promise.reject(new Error('must not be called')));
    try {
      const request = exportRequest([span({ name: 'GET /' })]);
      const { response } = await post(
        server,
        toBinary(ExportTraceServiceRequestSchema, request),
        protobuf,
      );
      expect(response.status).toBe(200);
    } finally {
      await server.close(1_000);
    }
  });
});
