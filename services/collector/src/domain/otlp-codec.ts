import {
  create,
  createRegistry,
  fromBinary,
  fromJson,
  ScalarType,
  toBinary,
  toJson,
  type DescField,
  type DescMessage,
  type JsonValue,
  type MessageShape,
} from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
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
      // Fields this schema does not know are dropped: kept, each would be an object in memory.
      return fromBinary(schema, new Uint8Array(body.buffer, body.byteOffset, body.byteLength), {
        readUnknownFields: false,
      });
    }
    const document = JSON.parse(Buffer.from(body).toString('utf8')) as JsonValue;
    return fromJson(schema, hexIdsToBase64(document) as JsonValue, { ignoreUnknownFields: true });
  } catch (error) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `undecodable OTLP ${encoding} ${what} export: ${reasonOf(error)}`,
      { cause: error },
    );
  }
}

/** The longest reason for a refusal quoted back to the exporter. */
const maxReasonLength = 200;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Why a body did not decode, fit to answer with: protobuf-es quotes the offending value, which
 * may be long, or not even Unicode that a JSON answer can carry to a strict client.
 */
function reasonOf(error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error);
  return reason.slice(0, maxReasonLength).replace(loneSurrogate, '\uFFFD');
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

const requestSchemas: Record<Signal, DescMessage> = {
  traces: otlpTraceService.ExportTraceServiceRequestSchema,
  logs: otlpLogsService.ExportLogsServiceRequestSchema,
};

/**
 * Heap a decoded export takes beyond its body, as measured on V8 with protobuf-es 2: a message
 * object holds a slot per field and an object per oneof (an empty span, 16 fields, takes ~275
 * bytes; a key-value ~80), a bytes field is a view into the body (~100), a string has a header
 * (its characters are counted with the body). In OTLP/JSON, where the scan does not know the
 * schema, every object or array counts as a span.
 */
const heapBytes = { object: 96, slot: 16, bytes: 100, string: 24, jsonContainer: 300 } as const;

/** Where protobuf-es stops decoding nested messages; the scan stops there too. */
const recursionLimit = 100;

type Part = DescMessage | 'bytes' | 'string' | undefined;

interface Layout {
  readonly heap: number;
  /** What each length-delimited field decodes to, by field number. */
  readonly parts: ReadonlyMap<number, Part>;
}

const layouts = new WeakMap<DescMessage, Layout>();

function partOf(field: DescField): Part {
  const scalar = (type: ScalarType): Part =>
    type === ScalarType.BYTES ? 'bytes' : type === ScalarType.STRING ? 'string' : undefined;
  switch (field.fieldKind) {
    case 'message':
      return field.message;
    case 'scalar':
      return scalar(field.scalar);
    case 'list':
      if (field.listKind === 'message') return field.message;
      return field.listKind === 'scalar' ? scalar(field.scalar) : undefined;
    case 'enum':
    case 'map':
      return undefined;
  }
}

function layoutOf(schema: DescMessage): Layout {
  let layout = layouts.get(schema);
  if (layout === undefined) {
    const plain = schema.fields.filter((field) => field.oneof === undefined).length;
    const { object, slot } = heapBytes;
    layout = {
      heap: object + slot * plain + (object + slot) * schema.oneofs.length,
      parts: new Map(schema.fields.map((field) => [field.number, partOf(field)])),
    };
    layouts.set(schema, layout);
  }
  return layout;
}

/** The heap of the messages, bytes and strings of a protobuf body, found by walking its tags. */
function protobufHeapOf(schema: DescMessage, body: Uint8Array): number {
  const reader = new BinaryReader(body);
  let heap = 0;
  const walk = (message: DescMessage, end: number, depth: number): void => {
    const { heap: own, parts } = layoutOf(message);
    heap += own;
    while (reader.pos < end) {
      const [number, wireType] = reader.tag();
      const part = wireType === WireType.LengthDelimited ? parts.get(number) : undefined;
      if (typeof part === 'object' && depth < recursionLimit) {
        const length = reader.uint32();
        const stop = reader.pos + length;
        walk(part, stop, depth + 1);
        reader.pos = stop;
      } else {
        if (typeof part === 'string') heap += heapBytes[part];
        reader.skip(wireType, number, recursionLimit - depth);
      }
    }
  };
  try {
    walk(schema, body.byteLength, 1);
  } catch {
    // Malformed: decoding refuses it, with a better message than the scan could give.
  }
  return heap;
}

/** The heap of the objects and arrays of an OTLP/JSON body, counted outside its strings. */
function jsonHeapOf(body: Uint8Array): number {
  const [quote, backslash, brace, bracket] = [0x22, 0x5c, 0x7b, 0x5b];
  let containers = 0;
  let inString = false;
  for (let i = 0; i < body.byteLength; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === backslash) i++;
      else if (byte === quote) inString = false;
    } else if (byte === quote) {
      inString = true;
    } else if (byte === brace || byte === bracket) {
      containers++;
    }
  }
  return containers * heapBytes.jsonContainer;
}

/**
 * The memory an export takes once decoded, estimated without decoding it (within a factor of
 * two, recorded exports and hostile ones alike): the body (kept: bytes fields are views into it)
 * and as much again for its strings' characters, plus what each message, bytes and string field
 * adds. The body's size alone says little: an empty span is 2 bytes in an export and some 275
 * once decoded.
 */
export function decodedSizeOf(signal: Signal, body: Uint8Array, encoding: Encoding): number {
  const parts =
    encoding === 'protobuf' ? protobufHeapOf(requestSchemas[signal], body) : jsonHeapOf(body);
  return 2 * body.byteLength + parts;
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
