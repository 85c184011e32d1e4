import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { retryAfterOf } from './otlp-edge.js';
import { RecordingIngest, tenantKeys, testEdge } from './testing/fixtures.js';

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
      maxInFlightBytes: 100,
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
