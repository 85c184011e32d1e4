import {
  create,
  createRegistry,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescMessage,
  type JsonValue,
  type MessageShape,
} from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import {
  googleRpc,
  googleRpcDetails,
  otlpLogsService,
  otlpTraceService,
} from '@understudy/contracts';
import { ErrorCode, grpcStatusOf, UnderstudyError } from '@understudy/errors';
import type { IngestResult } from './ingest.js';

/** The two OTLP/HTTP encodings; a response is written in the encoding of its request. */
export type Encoding = 'protobuf' | 'json';

/** The OTLP signals the collector takes. */
export type Signal = 'traces' | 'logs';

export const contentTypes: Record<Encoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

export function encodingOf(contentType: string | undefined): Encoding | undefined {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType === contentTypes.protobuf) return 'protobuf';
  if (mediaType === contentTypes.json) return 'json';
  return undefined;
}

const hexId = /^(?:[0-9a-fA-F]{2})*$/;
const idFields = ['traceId', 'spanId', 'parentSpanId', 'trace_id', 'span_id', 'parent_span_id'];

/**
 * OTLP/JSON writes trace and span ids as hex, where protobuf's JSON mapping expects base64 for
 * bytes: rewrite the ids of spans, links and log records before handing the document over.
 */
function hexIdsToBase64(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => hexIdsToBase64(item));
  if (typeof value !== 'object' || value === null) {
    return typeof value === 'string' && idFields.includes(key) && hexId.test(value)
      ? Buffer.from(value, 'hex').toString('base64')
      : value;
  }
  // Attribute values are free-form data that may use the same names: leave them as they are.
  if (key === 'attributes') return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, item]) => [name, hexIdsToBase64(item, name)]),
  );
}

function decode<Desc extends DescMessage>(
  schema: Desc,
  what: string,
  body: Uint8Array,
  encoding: Encoding,
): MessageShape<Desc> {
  try {
    if (encoding === 'protobuf') {
      // A plain view of a Buffer, so decoded bytes fields are plain Uint8Arrays (no copy).
      return fromBinary(schema, new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    }
    const document = JSON.parse(Buffer.from(body).toString('utf8')) as JsonValue;
    return fromJson(schema, hexIdsToBase64(document) as JsonValue, { ignoreUnknownFields: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `undecodable OTLP ${encoding} ${what} export: ${reason}`,
      { cause: error },
    );
  }
}

export function decodeTraceRequest(
  body: Uint8Array,
  encoding: Encoding,
): otlpTraceService.ExportTraceServiceRequest {
  return decode(otlpTraceService.ExportTraceServiceRequestSchema, 'trace', body, encoding);
}

export function decodeLogsRequest(
  body: Uint8Array,
  encoding: Encoding,
): otlpLogsService.ExportLogsServiceRequest {
  return decode(otlpLogsService.ExportLogsServiceRequestSchema, 'logs', body, encoding);
}

/** Any in JSON names its type, so the JSON encoder must know the details it may meet. */
const detailTypes = createRegistry(googleRpcDetails.RetryInfoSchema);

function encode<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
  encoding: Encoding,
): Uint8Array {
  return encoding === 'protobuf'
    ? toBinary(schema, message)
    : Buffer.from(JSON.stringify(toJson(schema, message, { registry: detailTypes })));
}

/**
 * Success. Records the ingest left out, or a message alone (a warning), make it a partial
 * success, which exporters do not retry.
 */
export function encodeExportResponse(
  signal: Signal,
  encoding: Encoding,
  { rejected, message }: IngestResult,
): Uint8Array {
  const partial = rejected > 0 || message !== '';
  switch (signal) {
    case 'traces': {
      const schema = otlpTraceService.ExportTraceServiceResponseSchema;
      const response = create(schema, {
        ...(partial && {
          partialSuccess: { rejectedSpans: BigInt(rejected), errorMessage: message },
        }),
      });
      return encode(schema, response, encoding);
    }
    case 'logs': {
      const schema = otlpLogsService.ExportLogsServiceResponseSchema;
      const response = create(schema, {
        ...(partial && {
          partialSuccess: { rejectedLogRecords: BigInt(rejected), errorMessage: message },
        }),
      });
      return encode(schema, response, encoding);
    }
  }
}

/**
 * The google.rpc.Status of a failure: the body of an OTLP/HTTP error and, in binary, the
 * `grpc-status-details-bin` trailer. A retry delay travels as google.rpc.RetryInfo, which gRPC
 * exporters need before they retry RESOURCE_EXHAUSTED and honour on UNAVAILABLE.
 */
export function rpcStatus(
  code: ErrorCode,
  message: string,
  retryAfterSeconds?: number,
): googleRpc.Status {
  const retryInfo =
    retryAfterSeconds === undefined
      ? []
      : [
          anyPack(
            googleRpcDetails.RetryInfoSchema,
            create(googleRpcDetails.RetryInfoSchema, {
              retryDelay: { seconds: BigInt(retryAfterSeconds) },
            }),
          ),
        ];
  return create(googleRpc.StatusSchema, {
    code: grpcStatusOf(code),
    message,
    details: retryInfo,
  });
}

/** The google.rpc.Status body OTLP/HTTP answers failures with. */
export function encodeStatus(
  encoding: Encoding,
  code: ErrorCode,
  message: string,
  retryAfterSeconds?: number,
): Uint8Array {
  return encode(googleRpc.StatusSchema, rpcStatus(code, message, retryAfterSeconds), encoding);
}
