import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { create, fromBinary, fromJson, toBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { otlpLogsService, otlpTraceService } from '@understudy/contracts';

/**
 * An OTLP/HTTP protobuf receiver that keeps everything it is sent: what an instrumentation
 * library really exports, for fixtures and for checking that they still match.
 */
export interface Recorder {
  /** OTLP base URL for exporters (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly endpoint: string;
  /** Every trace export so far, as one request. */
  traces(): otlpTraceService.ExportTraceServiceRequest;
  /** Every log export so far, as one request. */
  logs(): otlpLogsService.ExportLogsServiceRequest;
  close(): Promise<void>;
}

async function body(request: IncomingMessage): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  return new Uint8Array(Buffer.concat(parts));
}

export async function startRecorder(): Promise<Recorder> {
  const traces = create(otlpTraceService.ExportTraceServiceRequestSchema);
  const logs = create(otlpLogsService.ExportLogsServiceRequestSchema);

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const bytes = await body(request);
    const protobuf = { 'content-type': 'application/x-protobuf' };
    if (request.headers['content-type'] !== protobuf['content-type']) {
      response.writeHead(415).end();
    } else if (request.url === '/v1/traces') {
      const { ExportTraceServiceRequestSchema, ExportTraceServiceResponseSchema } =
        otlpTraceService;
      traces.resourceSpans.push(
        ...fromBinary(ExportTraceServiceRequestSchema, bytes).resourceSpans,
      );
      const answer = create(ExportTraceServiceResponseSchema);
      response.writeHead(200, protobuf).end(toBinary(ExportTraceServiceResponseSchema, answer));
    } else if (request.url === '/v1/logs') {
      const { ExportLogsServiceRequestSchema, ExportLogsServiceResponseSchema } = otlpLogsService;
      logs.resourceLogs.push(...fromBinary(ExportLogsServiceRequestSchema, bytes).resourceLogs);
      const answer = create(ExportLogsServiceResponseSchema);
      response.writeHead(200, protobuf).end(toBinary(ExportLogsServiceResponseSchema, answer));
    } else {
      response.writeHead(404).end();
    }
  };
  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.writeHead(400).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    traces: () => traces,
    logs: () => logs,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

const idFields = new Set(['traceId', 'spanId', 'parentSpanId']);

/**
 * protobuf-es writes bytes as base64, OTLP/JSON writes trace and span ids as hex: rewrite the
 * ids, leaving attribute values (free-form data) alone.
 */
function recodeIds(
  value: JsonValue,
  from: BufferEncoding,
  to: BufferEncoding,
  key = '',
): JsonValue {
  if (Array.isArray(value)) return value.map((item) => recodeIds(item, from, to));
  if (typeof value === 'string' && idFields.has(key)) {
    return Buffer.from(value, from).toString(to);
  }
  if (typeof value !== 'object' || value === null || key === 'attributes') return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, item]) => [name, recodeIds(item, from, to, name)]),
  );
}

const jsonOptions = { enumAsInteger: true } as const;

/** An export as OTLP/JSON, the form an OTLP/HTTP JSON exporter would have sent it in. */
export function tracesToOtlpJson(request: otlpTraceService.ExportTraceServiceRequest): JsonValue {
  const schema = otlpTraceService.ExportTraceServiceRequestSchema;
  return recodeIds(toJson(schema, request, jsonOptions), 'base64', 'hex');
}

export function logsToOtlpJson(request: otlpLogsService.ExportLogsServiceRequest): JsonValue {
  const schema = otlpLogsService.ExportLogsServiceRequestSchema;
  return recodeIds(toJson(schema, request, jsonOptions), 'base64', 'hex');
}

export function tracesFromOtlpJson(json: JsonValue): otlpTraceService.ExportTraceServiceRequest {
  const schema = otlpTraceService.ExportTraceServiceRequestSchema;
  return fromJson(schema, recodeIds(json, 'hex', 'base64'));
}

export function logsFromOtlpJson(json: JsonValue): otlpLogsService.ExportLogsServiceRequest {
  const schema = otlpLogsService.ExportLogsServiceRequestSchema;
  return fromJson(schema, recodeIds(json, 'hex', 'base64'));
}
