import { fromBinary } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { googleRpc, googleRpcDetails } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import {
  errorOfStatus,
  errorTrailer,
  statusDetailsTrailer,
  statusName,
  statusOfError,
} from './status.js';

/** What a grpc-js client reports for the status a server sent. */
function received(code: status, details: string, metadata = new Metadata()): ServiceError {
  return Object.assign(new Error(`${code} ${statusName(code)}: ${details}`), {
    code,
    details,
    metadata,
  });
}

function roundTrip(error: UnderstudyError): UnderstudyError {
  const sent = statusOfError(error);
  return errorOfStatus(received(sent.code, sent.details, sent.metadata));
}

describe('statusOfError and errorOfStatus', () => {
  it.each(Object.values(ErrorCode).filter((c) => c !== ErrorCode.Internal))(
    'carries %s across the wire',
    (code) => {
      const back = roundTrip(new UnderstudyError(code, 'why', { details: { id: 'x-1' } }));
      expect(back).toMatchObject({ code, message: 'why', details: { id: 'x-1' } });
    },
  );

  it('gives internal failures a generic message and no details', () => {
    const sent = statusOfError(
      new UnderstudyError(ErrorCode.Internal, 'password for db rejected', {
        details: { dsn: 'postgres://u:p@h/db' },
      }),
    );
    expect(sent).toMatchObject({ code: status.INTERNAL, details: 'internal error' });
    expect(JSON.stringify(sent.metadata.getMap())).not.toContain('postgres');
    expect(roundTrip(UnderstudyError.from(new Error('x')))).toMatchObject({
      code: ErrorCode.Internal,
      message: 'internal error',
      details: {},
    });
  });

  it('drops details JSON cannot carry instead of failing', () => {
    const back = roundTrip(
      new UnderstudyError(ErrorCode.InvalidArgument, 'bad', { details: { size: 10n } }),
    );
    expect(back).toMatchObject({ code: ErrorCode.InvalidArgument, details: {} });
  });

  it('falls back to the gRPC code when the trailer is missing, malformed or disagrees', () => {
    expect(errorOfStatus(received(status.UNAVAILABLE, 'down'))).toMatchObject({
      code: ErrorCode.Unavailable,
      retryable: true,
      message: 'down',
    });
    const garbled = new Metadata();
    garbled.set(errorTrailer, Buffer.from('{not json'));
    expect(errorOfStatus(received(status.NOT_FOUND, 'gone', garbled)).code).toBe(
      ErrorCode.NotFound,
    );
    const disagreeing = new Metadata();
    disagreeing.set(errorTrailer, Buffer.from('{"code":"PAYLOAD_TOO_LARGE","retryable":false}'));
    expect(errorOfStatus(received(status.ABORTED, 'retry', disagreeing))).toMatchObject({
      code: ErrorCode.Aborted,
      retryable: true,
    });
    expect(errorOfStatus(received(status.UNKNOWN, '')).message).toBe('UNKNOWN');
    expect(statusName(99)).toBe('99');
  });
});

describe('the google.rpc.Status trailer', () => {
  function rich(error: UnderstudyError, retryDelaySeconds?: number) {
    const [raw] = statusOfError(error, retryDelaySeconds).metadata.get(statusDetailsTrailer);
    if (!(raw instanceof Buffer)) throw new Error('no google.rpc.Status trailer');
    const decoded = fromBinary(googleRpc.StatusSchema, raw);
    const delays = decoded.details.map((any) => {
      const delay = anyUnpack(any, googleRpcDetails.RetryInfoSchema)?.retryDelay;
      return delay && { seconds: delay.seconds, nanos: delay.nanos };
    });
    return { code: decoded.code, message: decoded.message, delays };
  }

  it('mirrors the status, internal failures as vaguely', () => {
    expect(rich(new UnderstudyError(ErrorCode.PayloadTooLarge, 'too big'))).toEqual({
      code: status.RESOURCE_EXHAUSTED,
      message: 'too big',
      delays: [],
    });
    expect(rich(new UnderstudyError(ErrorCode.Internal, 'db password rejected'))).toEqual({
      code: status.INTERNAL,
      message: 'internal error',
      delays: [],
    });
  });

  it('carries a retry delay as RetryInfo, and leaves out delays that are no duration', () => {
    const busy = new UnderstudyError(ErrorCode.Unavailable, 'busy');
    expect(rich(busy, 5).delays).toEqual([{ seconds: 5n, nanos: 0 }]);
    expect(rich(busy, 0.25).delays).toEqual([{ seconds: 0n, nanos: 250_000_000 }]);
    for (const nonsense of [-1, Infinity, Number.NaN])
      expect(rich(busy, nonsense).delays).toEqual([]);
  });
});
