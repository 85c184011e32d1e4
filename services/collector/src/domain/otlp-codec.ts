import { create, fromBinary, fromJson, toBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { googleRpc, otlpTraceService } from '@understudy/contracts';
import { ErrorCode, grpcStatusOf, UnderstudyError } from '@understudy/errors';

/** The two OTLP/HTTP encodings; a response is written in the encoding of its request. */
export type Encoding = 'protobuf' | 'json';

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
 * bytes: rewrite the ids of spans and links before handing the document to protobuf-es.
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

function invalid(encoding: Encoding, error: unknown): UnderstudyError {
  const reason = error instanceof Error ? error.message : String(error);
  return new UnderstudyError(
    ErrorCode.InvalidArgument,
    `undecodable OTLP ${encoding} trace export: ${reason}`,
    { cause: error },
  );
}

export function decodeTraceRequest(
  body: Uint8Array,
  encoding: Encoding,
): otlpTraceService.ExportTraceServiceRequest {
  const schema = otlpTraceService.ExportTraceServiceRequestSchema;
  try {
    if (encoding === 'protobuf') return fromBinary(schema, body);
    const document = JSON.parse(Buffer.from(body).toString('utf8')) as JsonValue;
    return fromJson(schema, hexIdsToBase64(document) as JsonValue, { ignoreUnknownFields: true });
  } catch (error) {
    throw invalid(encoding, error);
  }
}

function encode(
  encoding: Encoding,
  toBytes: () => Uint8Array,
  toJsonValue: () => JsonValue,
): Uint8Array {
  return encoding === 'protobuf' ? toBytes() : Buffer.from(JSON.stringify(toJsonValue()));
}

/** Success; `rejectedSpans` above zero makes it a partial success, which clients do not retry. */
export function encodeTraceResponse(
  encoding: Encoding,
  rejectedSpans: number,
  errorMessage: string,
): Uint8Array {
  const schema = otlpTraceService.ExportTraceServiceResponseSchema;
  const response = create(schema, {
    ...(rejectedSpans > 0 && {
      partialSuccess: { rejectedSpans: BigInt(rejectedSpans), errorMessage },
    }),
  });
  return encode(
    encoding,
    () => toBinary(schema, response),
    () => toJson(schema, response),
  );
}

/** The google.rpc.Status body OTLP/HTTP answers failures with. */
export function encodeStatus(encoding: Encoding, code: ErrorCode, message: string): Uint8Array {
  const schema = googleRpc.StatusSchema;
  const status = create(schema, { code: grpcStatusOf(code), message });
  return encode(
    encoding,
    () => toBinary(schema, status),
    () => toJson(schema, status),
  );
}
