import { fromBinary, toBinary, toJson } from '@bufbuild/protobuf';
import { googleRpc, otlpTraceService } from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { chatSpan, exportRequest } from '../testing/otlp-requests.js';
import { decodeTraceRequest, encodeStatus, encodeTraceResponse, encodingOf } from './otlp-codec.js';

const { ExportTraceServiceRequestSchema, ExportTraceServiceResponseSchema } = otlpTraceService;

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
  });

  it('encodes success, partial success and google.rpc.Status in either encoding', () => {
    const full = fromBinary(
      ExportTraceServiceResponseSchema,
      encodeTraceResponse('protobuf', 0, ''),
    );
    expect(full.partialSuccess).toBeUndefined();
    const partial = fromBinary(
      ExportTraceServiceResponseSchema,
      encodeTraceResponse('protobuf', 2, '2 spans without ids'),
    );
    expect(partial.partialSuccess).toMatchObject({
      rejectedSpans: 2n,
      errorMessage: '2 spans without ids',
    });
    expect(JSON.parse(Buffer.from(encodeTraceResponse('json', 1, 'x')).toString())).toEqual({
      partialSuccess: { rejectedSpans: '1', errorMessage: 'x' },
    });

    const status = fromBinary(
      googleRpc.StatusSchema,
      encodeStatus('protobuf', ErrorCode.InvalidArgument, 'bad'),
    );
    expect(toJson(googleRpc.StatusSchema, status)).toEqual({ code: 3, message: 'bad' });
    expect(
      JSON.parse(Buffer.from(encodeStatus('json', ErrorCode.Unavailable, 'down')).toString()),
    ).toEqual({ code: 14, message: 'down' });
  });
});
