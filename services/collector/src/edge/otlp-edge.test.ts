import { create, toBinary } from '@bufbuild/protobuf';
import { otlpTrace, otlpTraceService } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import type { IngestResult } from '../domain/ingest.js';
import { decodedSizeOf } from '../domain/otlp-codec.js';
import { chatSpan, exportRequest } from '../testing/otlp-requests.js';
import { retryAfterOf } from './otlp-edge.js';
import { RecordingIngest, tenantKeys, testEdge } from './testing/fixtures.js';

const { ExportTraceServiceRequestSchema } = otlpTraceService;

describe('OtlpEdge', () => {
  it('refuses to start with an in-flight budget smaller than the largest export', () => {
    const tenants = tenantKeys({ acme: 'acme-key' }, { acme: { maxBodyBytes: 8_192 } });
    expect(() =>
      testEdge(new RecordingIngest(), {
        tenants,
        maxInFlightBytes: 4_096,
        limits: { maxBodyBytes: 1_024 },
      }),
    ).toThrow(
      'the in-flight limit (4096 bytes) must hold the largest export a tenant may send (8192 bytes)',
    );
  });

  it('authenticates by key digest and takes the tenant from the key only', () => {
    const edge = testEdge(new RecordingIngest());
    expect(edge.authenticate({ authorization: 'Bearer globex-key' })).toBe('globex');
    expect(() => edge.authenticate({ 'x-understudy-key': 'acme' })).toThrow(
      expect.objectContaining({ code: ErrorCode.Unauthenticated }),
    );
  });

  it('releases the bytes of an export that fails to decode', async () => {
    const edge = testEdge(new RecordingIngest(), {
      maxInFlightBytes: 200,
      limits: { maxBodyBytes: 100 },
    });
    const admission = edge.admit('acme');
    admission.hold(100);
    await expect(
      edge.export('traces', admission, new Uint8Array([0x0a, 0xff]), 'protobuf'),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    expect(() => {
      edge.admit('acme').hold(100);
    }).not.toThrow();
  });

  it('holds an export at its decoded size while the ingest has it, and refuses one past the whole budget', async () => {
    const ingest = new RecordingIngest();
    let settle: (result: IngestResult) => void = () => undefined;
    ingest.answer = () =>
      new Promise((resolve) => {
        settle = resolve;
      });
    const body = toBinary(ExportTraceServiceRequestSchema, exportRequest([chatSpan()]));
    const decoded = decodedSizeOf('traces', body, 'protobuf');
    const edge = testEdge(ingest, {
      maxInFlightBytes: decoded + 100,
      limits: { maxBodyBytes: body.byteLength },
    });
    const first = edge.admit('acme');
    first.hold(body.byteLength);
    const exported = edge.export('traces', first, body, 'protobuf');
    // Held decoded: what is left cannot take a body as large again.
    expect(() => {
      edge.admit('acme').hold(body.byteLength);
    }).toThrow(expect.objectContaining({ code: ErrorCode.Unavailable }));
    settle({ rejected: 0, message: '' });
    await exported;

    const dense = toBinary(
      ExportTraceServiceRequestSchema,
      exportRequest(Array.from({ length: 100 }, () => create(otlpTrace.SpanSchema))),
    );
    expect(dense.byteLength).toBeLessThan(body.byteLength);
    expect(decodedSizeOf('traces', dense, 'protobuf')).toBeGreaterThan(decoded + 100);
    const second = edge.admit('acme');
    second.hold(dense.byteLength);
    await expect(edge.export('traces', second, dense, 'protobuf')).rejects.toMatchObject({
      code: ErrorCode.PayloadTooLarge,
    });
    expect(ingest.received).toHaveLength(1);
  });

  it('asks for a retry only where one can succeed', () => {
    const throttled = new UnderstudyError(ErrorCode.ResourceExhausted, 'slow down', {
      details: { retryAfterSeconds: 3 },
    });
    expect(retryAfterOf(throttled)).toBe(3);
    expect(retryAfterOf(new UnderstudyError(ErrorCode.Unavailable, 'down'))).toBe(5);
    expect(retryAfterOf(new UnderstudyError(ErrorCode.PayloadTooLarge, 'big'))).toBeUndefined();
    expect(retryAfterOf(new UnderstudyError(ErrorCode.InvalidArgument, 'bad'))).toBeUndefined();
  });
});
