import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { create, fromBinary, toBinary, toJson, toJsonString } from '@bufbuild/protobuf';
import {
  googleRpc,
  googleRpcDetails,
  otlpLogsService,
  otlpTrace,
  otlpTraceService,
} from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { logsRequest, userMessageRecord } from '../edge/testing/fixtures.js';
import { chatSpan, exportRequest } from '../testing/otlp-requests.js';
import {
  decodedSizeOf,
  decodeLogsRequest,
  decodeTraceRequest,
  encodeExportResponse,
  encodeStatus,
  encodingOf,
} from './otlp-codec.js';

const { ExportTraceServiceRequestSchema, ExportTraceServiceResponseSchema } = otlpTraceService;
const { ExportLogsServiceRequestSchema, ExportLogsServiceResponseSchema } = otlpLogsService;

describe('OTLP codec', () => {
  it('knows the two OTLP content types, parameters and case aside', () => {
    expect(encodingOf('application/x-protobuf')).toBe('protobuf');
    expect(encodingOf('Application/JSON; charset=utf-8')).toBe('json');
    expect(encodingOf('text/plain')).toBeUndefined();
    expect(encodingOf(undefined)).toBeUndefined();
  });

  it('decodes protobuf exports', () => {
    const request = exportRequest([chatSpan()]);
    const decoded = decodeTraceRequest(
      toBinary(ExportTraceServiceRequestSchema, request),
      'protobuf',
    );
    expect(decoded.resourceSpans[0]?.scopeSpans[0]?.spans[0]?.spanId).toEqual(
      request.resourceSpans[0]?.scopeSpans[0]?.spans[0]?.spanId,
    );
  });

  it('decodes OTLP/JSON with hex ids, integer enums and string int64s', () => {
    const json = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'agent' } }] },
          scopeSpans: [
            {
              scope: { name: 'manual' },
              spans: [
                {
                  traceId: '5b8efff798038103d269b633813fc60c',
                  spanId: 'eee19b7ec3c1b174',
                  parentSpanId: 'eee19b7ec3c1b173',
                  name: 'chat m',
                  kind: 3,
                  startTimeUnixNano: '1544712660000000000',
                  endTimeUnixNano: '1544712661000000000',
                  attributes: [
                    { key: 'gen_ai.usage.input_tokens', value: { intValue: '12' } },
                    // Attribute values are data: a hex-looking "spanId" key stays as given.
                    { key: 'spanId', value: { stringValue: 'abcd' } },
                  ],
                  status: { code: 2, message: 'failed' },
                  links: [
                    { traceId: '5b8efff798038103d269b633813fc60c', spanId: '0000000000000001' },
                  ],
                  unknownField: true,
                },
              ],
            },
          ],
        },
      ],
    };
    const decoded = decodeTraceRequest(Buffer.from(JSON.stringify(json)), 'json');
    const span = decoded.resourceSpans[0]?.scopeSpans[0]?.spans[0];
    expect(Buffer.from(span?.traceId ?? []).toString('hex')).toBe(
      '5b8efff798038103d269b633813fc60c',
    );
    expect(Buffer.from(span?.spanId ?? []).toString('hex')).toBe('eee19b7ec3c1b174');
    expect(Buffer.from(span?.parentSpanId ?? []).toString('hex')).toBe('eee19b7ec3c1b173');
    expect(Buffer.from(span?.links[0]?.spanId ?? []).toString('hex')).toBe('0000000000000001');
    expect(span?.startTimeUnixNano).toBe(1544712660000000000n);
    expect(span?.status?.code).toBe(2);
    expect(span?.attributes[1]?.value?.value).toEqual({ case: 'stringValue', value: 'abcd' });
  });

  it('decodes logs exports, protobuf and OTLP/JSON with hex ids and event names', () => {
    const record = userMessageRecord('Hi there');
    const binary = decodeLogsRequest(
      toBinary(ExportLogsServiceRequestSchema, logsRequest([record])),
      'protobuf',
    );
    expect(binary.resourceLogs[0]?.scopeLogs[0]?.logRecords[0]?.spanId).toEqual(record.spanId);

    const json = {
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: '1544712660000000000',
                  eventName: 'gen_ai.choice',
                  traceId: '5b8efff798038103d269b633813fc60c',
                  spanId: 'eee19b7ec3c1b174',
                  severityNumber: 9,
                  body: { kvlistValue: { values: [{ key: 'index', value: { intValue: '0' } }] } },
                },
              ],
            },
          ],
        },
      ],
    };
    const decoded = decodeLogsRequest(Buffer.from(JSON.stringify(json)), 'json');
    const log = decoded.resourceLogs[0]?.scopeLogs[0]?.logRecords[0];
    expect(Buffer.from(log?.traceId ?? []).toString('hex')).toBe(
      '5b8efff798038103d269b633813fc60c',
    );
    expect(Buffer.from(log?.spanId ?? []).toString('hex')).toBe('eee19b7ec3c1b174');
    expect(log?.eventName).toBe('gen_ai.choice');
    expect(log?.timeUnixNano).toBe(1544712660000000000n);
  });

  it('refuses bodies that are not an export', () => {
    for (const [body, encoding] of [
      [Buffer.from([0x0a, 0xff, 0xff]), 'protobuf'],
      [Buffer.from('{"resourceSpans": '), 'json'],
      [Buffer.from('{"resourceSpans": 3}'), 'json'],
    ] as const) {
      expect(() => decodeTraceRequest(body, encoding)).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument }),
      );
    }
    expect(() => decodeLogsRequest(Buffer.from('{"resourceLogs": 3}'), 'json')).toThrow(
      /^undecodable OTLP json logs export/,
    );
  });

  it('quotes a value that does not decode briefly, and as valid Unicode', () => {
    const value = `\ud800${'x'.repeat(10_000)}`;
    const body = JSON.stringify({
      resourceSpans: [
        { scopeSpans: [{ spans: [{ attributes: [{ key: 'n', value: { intValue: value } }] }] }] },
      ],
    });
    let message = '';
    try {
      decodeTraceRequest(Buffer.from(body), 'json');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^undecodable OTLP json trace export: .*int64.*\ufffdx/);
    expect(message.length).toBeLessThan(300);
    // Survives UTF-8 unchanged: no lone surrogate in it.
    expect(Buffer.from(message).toString()).toBe(message);
  });

  it('drops protobuf fields the schema does not know rather than keeping each one', () => {
    const known = toBinary(ExportTraceServiceRequestSchema, exportRequest([chatSpan()]));
    // Field 100, varint 1, twice: what a newer exporter might add.
    const body = Buffer.concat([known, Buffer.from([0xa0, 0x06, 0x01, 0xa0, 0x06, 0x01])]);
    const decoded = decodeTraceRequest(body, 'protobuf');
    expect(decoded.$unknown).toBeUndefined();
    expect(decoded.resourceSpans).toHaveLength(1);
  });

  it('bounds what an export takes decoded by its messages, not its bytes alone', () => {
    const emptySpans = (count: number) =>
      toBinary(
        ExportTraceServiceRequestSchema,
        exportRequest(Array.from({ length: count }, () => create(otlpTrace.SpanSchema))),
      );
    const sizeOf = (body: Uint8Array) => decodedSizeOf('traces', body, 'protobuf');
    // An empty span is 2 bytes on the wire and a whole message decoded.
    const body = emptySpans(1_001);
    const perSpan = (sizeOf(body) - sizeOf(emptySpans(1))) / 1_000;
    expect(perSpan).toBeGreaterThan(250);
    expect(sizeOf(body) / body.byteLength).toBeGreaterThan(100);

    // A real call: some ten times its bytes, about the same in either encoding.
    const request = exportRequest([chatSpan()]);
    const binary = toBinary(ExportTraceServiceRequestSchema, request);
    const json = Buffer.from(toJsonString(ExportTraceServiceRequestSchema, request));
    expect(sizeOf(binary) / binary.byteLength).toBeLessThan(20);
    const jsonToBinary = decodedSizeOf('traces', json, 'json') / sizeOf(binary);
    expect(jsonToBinary).toBeGreaterThan(0.5);
    expect(jsonToBinary).toBeLessThan(2);

    // Never throws: what does not decode is refused by decoding, with its reason.
    expect(sizeOf(body.subarray(0, 1_000))).toBeGreaterThan(0);
    expect(sizeOf(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toBeGreaterThan(0);
  });

  it('counts OTLP/JSON objects and arrays outside strings only', () => {
    const sizeOf = (text: string) => decodedSizeOf('logs', Buffer.from(text), 'json');
    expect(sizeOf('{"a":"[{[{"}')).toBe(sizeOf('{"a":"abcd"}'));
    expect(sizeOf('{"a":"\\"[{"}')).toBe(sizeOf('{"a":"\\"ab"}'));
    expect(sizeOf('{"a":[{},{}]}')).toBeGreaterThan(sizeOf('{"a":"abcde"}'));
  });

  it('encodes success and partial success for either signal, in either encoding', () => {
    const full = fromBinary(
      ExportTraceServiceResponseSchema,
      encodeExportResponse('traces', 'protobuf', { rejected: 0, message: '' }),
    );
    expect(full.partialSuccess).toBeUndefined();
    const partial = fromBinary(
      ExportTraceServiceResponseSchema,
      encodeExportResponse('traces', 'protobuf', { rejected: 2, message: '2 spans without ids' }),
    );
    expect(partial.partialSuccess).toMatchObject({
      rejectedSpans: 2n,
      errorMessage: '2 spans without ids',
    });
    const logs = fromBinary(
      ExportLogsServiceResponseSchema,
      encodeExportResponse('logs', 'protobuf', { rejected: 3, message: 'no ids' }),
    );
    expect(logs.partialSuccess).toMatchObject({ rejectedLogRecords: 3n, errorMessage: 'no ids' });
    const json = (bytes: Uint8Array): unknown => JSON.parse(Buffer.from(bytes).toString());
    expect(json(encodeExportResponse('traces', 'json', { rejected: 1, message: 'x' }))).toEqual({
      partialSuccess: { rejectedSpans: '1', errorMessage: 'x' },
    });
    expect(json(encodeExportResponse('logs', 'json', { rejected: 0, message: '' }))).toEqual({});
    // A warning alone is a partial success with nothing rejected (OTLP allows it).
    expect(json(encodeExportResponse('logs', 'json', { rejected: 0, message: 'late' }))).toEqual({
      partialSuccess: { errorMessage: 'late' },
    });
  });

  it('encodes google.rpc.Status, with RetryInfo when a retry delay is known', () => {
    const status = fromBinary(
      googleRpc.StatusSchema,
      encodeStatus('protobuf', ErrorCode.InvalidArgument, 'bad'),
    );
    expect(toJson(googleRpc.StatusSchema, status)).toEqual({ code: 3, message: 'bad' });

    const throttled = fromBinary(
      googleRpc.StatusSchema,
      encodeStatus('protobuf', ErrorCode.ResourceExhausted, 'slow down', 3),
    );
    expect(throttled.code).toBe(8);
    const retryInfo = anyUnpack(throttled.details[0]!, googleRpcDetails.RetryInfoSchema);
    expect(retryInfo?.retryDelay?.seconds).toBe(3n);

    expect(
      JSON.parse(Buffer.from(encodeStatus('json', ErrorCode.Unavailable, 'down', 5)).toString()),
    ).toEqual({
      code: 14,
      message: 'down',
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '5s' }],
    });
  });
});
