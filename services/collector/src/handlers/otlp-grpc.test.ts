import { connect, constants as h2 } from 'node:http2';
import { create, fromBinary, toBinary, type DescService } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import {
  compressionAlgorithms,
  credentials,
  makeGenericClientConstructor,
  Metadata,
  status,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  googleRpc,
  googleRpcDetails,
  Health,
  HealthCheckResponse_ServingStatus,
  otlpLogsService,
  otlpTraceService,
  reflectionV1,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import {
  createClient,
  methodPath,
  rawServiceDefinition,
  serviceDefinition,
  statusDetailsTrailer,
  type GrpcServer,
} from '@understudy/grpc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IngestResult } from '../domain/ingest.js';
import { decodedSizeOf } from '../domain/otlp-codec.js';
import type { OtlpEdge } from '../edge/otlp-edge.js';
import {
  logsRequest,
  RecordingIngest,
  tenantKeys,
  testEdge,
  userMessageRecord,
} from '../edge/testing/fixtures.js';
import { chatSpan, exportRequest } from '../testing/otlp-requests.js';
import { OtlpGrpcHandler } from './otlp-grpc.js';

const { TraceService, ExportTraceServiceRequestSchema } = otlpTraceService;
const { LogsService } = otlpLogsService;
const maxBodyBytes = 64 * 1024;
const exportPath = methodPath(TraceService.method.export);

async function serve(edge: OtlpEdge): Promise<GrpcServer> {
  const server = new OtlpGrpcHandler(edge).createServer({
    host: '127.0.0.1',
    port: 0,
    shutdownTimeoutMs: 1_000,
  });
  await server.start();
  return server;
}

type ExportClient = Client & {
  export(
    request: unknown,
    metadata: Metadata,
    callback: (error: ServiceError | null, response?: unknown) => void,
  ): void;
};

/** A real grpc-js client of a generated service (the libs/grpc adapter does the encoding). */
function clientOf(service: DescService, server: GrpcServer, gzip = false): ExportClient {
  const Constructor = makeGenericClientConstructor(serviceDefinition(service), service.name);
  return new Constructor(`127.0.0.1:${server.port}`, credentials.createInsecure(), {
    ...(gzip && { 'grpc.default_compression_algorithm': compressionAlgorithms.gzip }),
  }) as unknown as ExportClient;
}

/** A client sending whatever bytes it is given as the TraceService request. */
function rawClientOf(server: GrpcServer): ExportClient {
  const Constructor = makeGenericClientConstructor(
    rawServiceDefinition(TraceService),
    'RawTraceService',
  );
  return new Constructor(
    `127.0.0.1:${server.port}`,
    credentials.createInsecure(),
  ) as unknown as ExportClient;
}

function keyed(key: string | undefined, header = 'authorization'): Metadata {
  const metadata = new Metadata();
  if (key !== undefined) metadata.set(header, header === 'authorization' ? `Bearer ${key}` : key);
  return metadata;
}

/** Calls Export; resolves with the response or the ServiceError, never throws. */
function call(
  client: ExportClient,
  request: unknown,
  metadata = keyed('acme-key'),
): Promise<{ response?: unknown; error?: ServiceError }> {
  return new Promise((resolve) => {
    client.export(request, metadata, (error, response) => {
      resolve(error ? { error } : { response });
    });
  });
}

/** The google.rpc.Status a failed call carries in its trailers, decoded. */
function statusDetails(error: ServiceError | undefined) {
  const [raw] = error?.metadata.get(statusDetailsTrailer) ?? [];
  if (!(raw instanceof Buffer)) return undefined;
  const details = fromBinary(googleRpc.StatusSchema, raw);
  return {
    code: details.code,
    message: details.message,
    retryDelays: details.details.map(
      (any) => anyUnpack(any, googleRpcDetails.RetryInfoSchema)?.retryDelay?.seconds,
    ),
  };
}

const traceExport = () => exportRequest([chatSpan()]);

describe('OTLP/gRPC export', () => {
  const ingest = new RecordingIngest();
  let server: GrpcServer;
  let traces: ExportClient;

  beforeAll(async () => {
    server = await serve(testEdge(ingest, { limits: { maxBodyBytes } }));
    traces = clientOf(TraceService, server);
  });

  afterAll(async () => {
    traces.close();
    await server.shutdown();
  });

  afterEach(() => {
    ingest.received.length = 0;
    ingest.answer = () => Promise.resolve({ rejected: 0, message: '' });
  });

  it('hands a trace export to the ingest and answers a full success', async () => {
    const request = traceExport();
    const { response, error } = await call(traces, request);
    expect(error).toBeUndefined();
    expect(response).toEqual(create(otlpTraceService.ExportTraceServiceResponseSchema));
    expect(ingest.received).toHaveLength(1);
    expect(ingest.received[0]).toMatchObject({ signal: 'traces', tenantId: 'acme' });
    expect(ingest.received[0]?.request).toEqual(request);
  });

  it('takes logs exports, the key in x-understudy-key and gzip-compressed messages', async () => {
    const request = logsRequest([userMessageRecord()]);
    const logs = clientOf(LogsService, server, true);
    try {
      const { error } = await call(logs, request, keyed('globex-key', 'x-understudy-key'));
      expect(error).toBeUndefined();
    } finally {
      logs.close();
    }
    expect(ingest.received).toHaveLength(1);
    expect(ingest.received[0]).toMatchObject({ signal: 'logs', tenantId: 'globex' });
    expect(ingest.received[0]?.request).toEqual(request);
  });

  it('passes the ingest partial success through', async () => {
    ingest.answer = () => Promise.resolve({ rejected: 3, message: '3 spans without ids' });
    const { response } = await call(traces, traceExport());
    expect(response).toMatchObject({
      partialSuccess: { rejectedSpans: 3n, errorMessage: '3 spans without ids' },
    });

    ingest.answer = () => Promise.resolve({ rejected: 1, message: 'no trace id' });
    const logs = clientOf(LogsService, server);
    try {
      const answer = await call(logs, logsRequest([userMessageRecord()]));
      expect(answer.response).toMatchObject({
        partialSuccess: { rejectedLogRecords: 1n, errorMessage: 'no trace id' },
      });
    } finally {
      logs.close();
    }
  });

  it('serves health and reflection beside the exports, to callers without a key', async () => {
    const address = `127.0.0.1:${server.port}`;
    const health = createClient(Health, address);
    const reflection = createClient(reflectionV1.ServerReflection, address);
    try {
      const { status: serving } = await health.check({ service: TraceService.typeName });
      expect(serving).toBe(HealthCheckResponse_ServingStatus.SERVING);
      const names: string[] = [];
      for await (const { messageResponse } of reflection.serverReflectionInfo([
        { messageRequest: { case: 'listServices', value: '' } },
      ])) {
        if (messageResponse.case === 'listServicesResponse') {
          names.push(...messageResponse.value.service.map((s) => s.name));
        }
      }
      expect(names).toEqual([
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
        LogsService.typeName,
        TraceService.typeName,
      ]);
    } finally {
      health.close();
      reflection.close();
    }
  });

  it('answers INVALID_ARGUMENT to an undecodable message', async () => {
    const raw = rawClientOf(server);
    try {
      const { error } = await call(raw, Buffer.from([0x0a, 0xff, 0xff]));
      expect(error?.code).toBe(status.INVALID_ARGUMENT);
      expect(error?.details).toMatch(/^undecodable OTLP protobuf trace export/);
      expect(statusDetails(error)).toMatchObject({
        code: status.INVALID_ARGUMENT,
        retryDelays: [],
      });
    } finally {
      raw.close();
    }
    expect(ingest.received).toHaveLength(0);
  });

  it('answers UNAUTHENTICATED to a missing or unknown key', async () => {
    for (const metadata of [keyed(undefined), keyed('wrong'), keyed('wrong', 'x-understudy-key')]) {
      const { error } = await call(traces, traceExport(), metadata);
      expect(error?.code).toBe(status.UNAUTHENTICATED);
      expect(error?.details).toBe('missing or unknown API key');
    }
    expect(ingest.received).toHaveLength(0);
  });

  it('answers UNAUTHENTICATED from metadata alone, while the message is still arriving', async () => {
    const session = connect(`http://127.0.0.1:${server.port}`);
    try {
      const stream = session.request({
        [h2.HTTP2_HEADER_METHOD]: 'POST',
        [h2.HTTP2_HEADER_PATH]: exportPath,
        [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        te: 'trailers',
        authorization: 'Bearer wrong',
      });
      // A frame announcing a message within the size limit, of which a little is sent, and
      // never the rest: grpc-js would wait for it before calling any handler.
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(maxBodyBytes - 1, 1);
      stream.write(Buffer.concat([prefix, Buffer.alloc(1024)]));
      const headers = await new Promise<Record<string, unknown>>((resolve) => {
        stream.once('response', resolve);
      });
      expect(headers['grpc-status']).toBe(String(status.UNAUTHENTICATED));
      stream.close();
    } finally {
      session.close();
    }
  });

  it('answers RESOURCE_EXHAUSTED without RetryInfo to messages over the size limit', async () => {
    const large = exportRequest([chatSpan({ attributes: { pad: 'x'.repeat(maxBodyBytes) } })]);
    const { error } = await call(traces, large);
    expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
    // Nothing says to retry: exporters drop it rather than resend it forever.
    expect(statusDetails(error)?.retryDelays ?? []).toEqual([]);
    expect(ingest.received).toHaveLength(0);
  });

  it('answers UNAVAILABLE with RetryInfo when the ingest cannot make the export durable', async () => {
    ingest.answer = () =>
      Promise.reject(new UnderstudyError(ErrorCode.Unavailable, 'Kafka: broker down'));
    const { error } = await call(traces, traceExport());
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(error?.details).toBe('Kafka: broker down');
    expect(statusDetails(error)).toEqual({
      code: status.UNAVAILABLE,
      message: 'Kafka: broker down',
      retryDelays: [5n],
    });
  });
});

describe('OTLP/gRPC limits and back-pressure', () => {
  it('throttles a tenant with RESOURCE_EXHAUSTED and RetryInfo, and not the others', async () => {
    const ingest = new RecordingIngest();
    const clock = { ms: 0 };
    const server = await serve(
      testEdge(ingest, { now: () => clock.ms, limits: { requestsPerSecond: 1 } }),
    );
    const traces = clientOf(TraceService, server);
    try {
      expect((await call(traces, traceExport())).error).toBeUndefined();
      const { error } = await call(traces, traceExport());
      expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(statusDetails(error)).toEqual({
        code: status.RESOURCE_EXHAUSTED,
        message: 'tenant is over its requests per second limit',
        retryDelays: [1n],
      });
      expect((await call(traces, traceExport(), keyed('globex-key'))).error).toBeUndefined();
      clock.ms += 1_000;
      expect((await call(traces, traceExport())).error).toBeUndefined();
      expect(ingest.received.map((r) => r.tenantId)).toEqual(['acme', 'globex', 'acme']);
    } finally {
      traces.close();
      await server.shutdown();
    }
  });

  it('applies per-tenant size limits below what the server receives', async () => {
    const ingest = new RecordingIngest();
    const edge = testEdge(ingest, {
      tenants: tenantKeys(
        { acme: 'acme-key', globex: 'globex-key' },
        { globex: { maxBodyBytes: 200 } },
      ),
    });
    const server = await serve(edge);
    const traces = clientOf(TraceService, server);
    try {
      const request = traceExport();
      expect(toBinary(ExportTraceServiceRequestSchema, request).byteLength).toBeGreaterThan(200);
      expect((await call(traces, request)).error).toBeUndefined();
      const { error } = await call(traces, request, keyed('globex-key'));
      expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(statusDetails(error)).toEqual({
        code: status.RESOURCE_EXHAUSTED,
        message: 'export larger than 200 bytes',
        retryDelays: [],
      });
    } finally {
      traces.close();
      await server.shutdown();
    }
  });

  it('answers UNAVAILABLE with RetryInfo while the in-flight budget is full', async () => {
    const ingest = new RecordingIngest();
    let settle: (result: IngestResult) => void = () => undefined;
    ingest.answer = () =>
      new Promise((resolve) => {
        settle = resolve;
      });
    const body = toBinary(ExportTraceServiceRequestSchema, traceExport());
    // Room for one export in flight, decoded.
    const server = await serve(
      testEdge(ingest, {
        maxInFlightBytes: decodedSizeOf('traces', body, 'protobuf') + 10,
        limits: { maxBodyBytes: body.byteLength + 10 },
      }),
    );
    const traces = clientOf(TraceService, server);
    try {
      const first = call(traces, traceExport());
      await expect.poll(() => ingest.received).toHaveLength(1);
      const { error } = await call(traces, traceExport());
      expect(error?.code).toBe(status.UNAVAILABLE);
      expect(statusDetails(error)).toEqual({
        code: status.UNAVAILABLE,
        message: 'collector is at its in-flight limit',
        retryDelays: [5n],
      });
      settle({ rejected: 0, message: '' });
      expect((await first).error).toBeUndefined();
      ingest.answer = () => Promise.resolve({ rejected: 0, message: '' });
      expect((await call(traces, traceExport())).error).toBeUndefined();
    } finally {
      traces.close();
      await server.shutdown();
    }
  });
});
