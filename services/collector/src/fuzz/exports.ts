import { readdirSync, readFileSync } from 'node:fs';
import { clone, create, toBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';
import {
  otlpCommon,
  otlpLogs,
  otlpLogsService,
  otlpTrace,
  otlpTraceService,
} from '@understudy/contracts';
import { decodeLogsRequest, decodeTraceRequest, type Encoding } from '../domain/otlp-codec.js';
import {
  concat,
  invalidUtf8,
  mutateAttributes,
  nestedAnyValue,
  randomAnyValue,
  type AttributeLimits,
} from './mutate.js';
import type { Random } from './random.js';

/** The fuzz corpus: the exports recorded from real libraries, and what they are made of. */

const { ExportTraceServiceRequestSchema } = otlpTraceService;
const { ExportLogsServiceRequestSchema } = otlpLogsService;

export type Exported =
  | { readonly signal: 'traces'; readonly request: otlpTraceService.ExportTraceServiceRequest }
  | { readonly signal: 'logs'; readonly request: otlpLogsService.ExportLogsServiceRequest };

export interface Recorded {
  readonly name: string;
  readonly exported: Exported;
}

const fixtures = new URL('../testing/fixtures/', import.meta.url);

/** Every recorded export (src/testing/fixtures), traces and logs. */
export const recorded: readonly Recorded[] = readdirSync(fixtures)
  .filter((file) => /\.(traces|logs)\.json$/.test(file))
  .sort()
  .map((file) => {
    const body = readFileSync(new URL(file, fixtures));
    const exported: Exported = file.endsWith('.logs.json')
      ? { signal: 'logs', request: decodeLogsRequest(body, 'json') }
      : { signal: 'traces', request: decodeTraceRequest(body, 'json') };
    return { name: file.replace(/\.json$/, ''), exported };
  });

/** A recorded export of either signal, as likely one as the other. */
export function pickRecorded(random: Random): Recorded {
  const signal = random.chance(0.5) ? 'traces' : 'logs';
  return random.pick(recorded.filter(({ exported }) => exported.signal === signal));
}

/** The records (spans or log records) of an export. */
export function records(exported: Exported): OtlpRecord[] {
  return exported.signal === 'traces'
    ? exported.request.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
    : exported.request.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords));
}

type OtlpRecord = otlpTrace.Span | otlpLogs.LogRecord;

export const isSpan = (record: OtlpRecord): record is otlpTrace.Span =>
  record.$typeName === otlpTrace.SpanSchema.typeName;

/** Every attribute list of an export, those nested in kvlist values included. */
export function attributeLists(exported: Exported): otlpCommon.KeyValue[][] {
  const lists: otlpCommon.KeyValue[][] = [];
  const add = (list: otlpCommon.KeyValue[]) => {
    lists.push(list);
    for (const { value } of list) nested(value);
  };
  const nested = (value: otlpCommon.AnyValue | undefined) => {
    if (value?.value.case === 'kvlistValue') add(value.value.value.values);
    if (value?.value.case === 'arrayValue') value.value.value.values.forEach(nested);
  };
  const scopes =
    exported.signal === 'traces'
      ? exported.request.resourceSpans.flatMap((r) => [
          r.resource,
          ...r.scopeSpans.map((s) => s.scope),
        ])
      : exported.request.resourceLogs.flatMap((r) => [
          r.resource,
          ...r.scopeLogs.map((s) => s.scope),
        ]);
  for (const scope of scopes) if (scope) add(scope.attributes);
  for (const record of records(exported)) {
    add(record.attributes);
    if (isSpan(record)) {
      for (const event of record.events) add(event.attributes);
      for (const link of record.links) add(link.attributes);
    } else {
      nested(record.body);
    }
  }
  return lists;
}

/** The attribute keys the recorded libraries use, to mix formats and put keys where unexpected. */
export const vocabulary: readonly string[] = [
  ...new Set(
    recorded.flatMap(({ exported }) =>
      attributeLists(exported).flatMap((list) => list.map(({ key }) => key)),
    ),
  ),
].sort();

export function encode(exported: Exported, encoding: Encoding): Uint8Array {
  if (encoding === 'protobuf') {
    return exported.signal === 'traces'
      ? toBinary(ExportTraceServiceRequestSchema, exported.request)
      : toBinary(ExportLogsServiceRequestSchema, exported.request);
  }
  const json =
    exported.signal === 'traces'
      ? toJson(ExportTraceServiceRequestSchema, exported.request)
      : toJson(ExportLogsServiceRequestSchema, exported.request);
  return Buffer.from(JSON.stringify(hexIds(json)));
}

const idFields = new Set(['traceId', 'spanId', 'parentSpanId']);

/** OTLP/JSON as exporters write it: ids in hex where protobuf's JSON mapping has base64. */
function hexIds(value: JsonValue, key = ''): JsonValue {
  if (Array.isArray(value)) return value.map((item) => hexIds(item));
  if (typeof value === 'string' && idFields.has(key)) {
    return Buffer.from(value, 'base64').toString('hex');
  }
  if (typeof value !== 'object' || value === null || key === 'attributes') return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, item]) => [name, hexIds(item, name)]),
  );
}

export function cloneExport(exported: Exported): Exported {
  return exported.signal === 'traces'
    ? { signal: 'traces', request: clone(ExportTraceServiceRequestSchema, exported.request) }
    : { signal: 'logs', request: clone(ExportLogsServiceRequestSchema, exported.request) };
}

const extremeNanos = [0n, 1n, 2n ** 64n - 1n, 2n ** 63n];
const badIdLengths = [0, 1, 7, 9, 15, 17, 32];

/**
 * Mutates a copy of an export the way a buggy or hostile exporter might while still encoding it
 * correctly: attributes (see mutateAttributes), ids, timestamps, enums out of range, log bodies,
 * deep nests, and records by the thousand.
 */
export function mutateExport(
  random: Random,
  source: Exported,
  limits: AttributeLimits,
  mutations = random.size(4),
): { exported: Exported; did: string[] } {
  const exported = cloneExport(source);
  const did: string[] = [];
  for (let i = 0; i < mutations; i++) {
    const all = records(exported);
    const record = all.length > 0 ? random.pick(all) : undefined;
    switch (random.below(record === undefined ? 1 : 8)) {
      case 0:
      case 1:
      case 2: {
        const lists = attributeLists(exported);
        if (lists.length === 0) break;
        did.push(mutateAttributes(random, random.pick(lists), limits));
        break;
      }
      case 3: {
        const length = random.pick(badIdLengths);
        const bytes = random.bytes(length);
        if (record === undefined) break;
        if (random.chance(0.5)) record.traceId = bytes;
        else record.spanId = bytes;
        did.push(`an id of ${length} bytes`);
        break;
      }
      case 4: {
        const nanos = random.pick(extremeNanos);
        if (record === undefined) break;
        if (isSpan(record)) {
          record.startTimeUnixNano = nanos;
          if (random.chance(0.5)) record.endTimeUnixNano = random.pick(extremeNanos);
        } else {
          record.timeUnixNano = nanos;
          record.observedTimeUnixNano = random.pick(extremeNanos);
        }
        did.push(`timestamps ${nanos}`);
        break;
      }
      case 5: {
        if (record === undefined) break;
        const value = random.pick([-1, 99, 2 ** 31 - 1]);
        // Values no version of the enums has; reflection sets them as an old decoder would.
        if (isSpan(record)) {
          const { SpanSchema, StatusSchema } = otlpTrace;
          reflect(SpanSchema, record).set(SpanSchema.field.kind, value);
          const status = create(StatusSchema, { message: random.text(8) });
          reflect(StatusSchema, status).set(StatusSchema.field.code, value);
          record.status = status;
        } else {
          const { LogRecordSchema } = otlpLogs;
          reflect(LogRecordSchema, record).set(LogRecordSchema.field.severityNumber, value);
        }
        did.push(`enums set to ${value}`);
        break;
      }
      case 6: {
        if (record === undefined) break;
        const depth = random.size(limits.maxDepth);
        const body = random.chance(0.5) ? nestedAnyValue(random, depth) : randomAnyValue(random, 3);
        if (isSpan(record)) {
          record.events.push(
            create(otlpTrace.Span_EventSchema, {
              name: 'gen_ai.content.prompt',
              attributes: [{ key: 'gen_ai.prompt', value: body }],
            }),
          );
        } else {
          record.body = body;
        }
        did.push('a random body');
        break;
      }
      default: {
        if (record === undefined) break;
        const copies = random.size(limits.manyAttributes);
        did.push(`${copies} copies of a record`);
        if (exported.signal === 'traces' && isSpan(record)) {
          const scope = exported.request.resourceSpans[0]?.scopeSpans[0];
          for (let n = 0; n < copies; n++) scope?.spans.push(clone(otlpTrace.SpanSchema, record));
        } else if (exported.signal === 'logs' && !isSpan(record)) {
          const scope = exported.request.resourceLogs[0]?.scopeLogs[0];
          for (let n = 0; n < copies; n++) {
            scope?.logRecords.push(clone(otlpLogs.LogRecordSchema, record));
          }
        }
      }
    }
  }
  return { exported, did };
}

/**
 * The export, encoded, with one of its strings (a key, a value or a span name) made invalid
 * UTF-8 without disturbing the framing around it.
 */
export function withInvalidUtf8(
  random: Random,
  source: Exported,
  encoding: Encoding,
): { bytes: Uint8Array; did: string } {
  const exported = cloneExport(source);
  const marker = `\u0001fuzz${random.uint32().toString(36)}\u0001`;
  const lists = attributeLists(exported).filter((list) => list.length > 0);
  const record = random.pick(records(exported));
  let where: string;
  if (lists.length > 0 && random.chance(0.8)) {
    const attribute = random.pick(random.pick(lists));
    if (random.chance(0.5)) {
      where = `key ${attribute.key}`;
      attribute.key = marker;
    } else {
      where = `value of ${attribute.key}`;
      attribute.value = create(otlpCommon.AnyValueSchema, {
        value: { case: 'stringValue', value: marker },
      });
    }
  } else if (isSpan(record)) {
    where = 'span name';
    record.name = marker;
  } else {
    where = 'event name';
    record.eventName = marker;
  }
  const bytes = Buffer.from(encode(exported, encoding));
  const at = bytes.indexOf(marker);
  const invalid = invalidUtf8(random);
  const padding = Buffer.from('x'.repeat(marker.length - invalid.length));
  return {
    bytes: concat(bytes.subarray(0, at), invalid, padding, bytes.subarray(at + marker.length)),
    did: `invalid UTF-8 (${Buffer.from(invalid).toString('hex')}) in the ${where}`,
  };
}
