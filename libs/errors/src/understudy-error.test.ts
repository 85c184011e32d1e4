import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  UnderstudyError,
  codeOfGrpcStatus,
  grpcStatusOf,
  httpStatusOf,
  isRetryable,
} from './index.js';

describe('UnderstudyError', () => {
  it('classifies by code unless told otherwise', () => {
    expect(new UnderstudyError(ErrorCode.Unavailable, 'broker down').retryable).toBe(true);
    expect(new UnderstudyError(ErrorCode.InvalidArgument, 'bad').retryable).toBe(false);
    expect(new UnderstudyError(ErrorCode.Internal, 'x', { retryable: true }).retryable).toBe(true);
  });

  it('wraps unknown failures as internal and keeps the cause', () => {
    const cause = new TypeError('boom');
    const wrapped = UnderstudyError.from(cause);
    expect(wrapped.code).toBe(ErrorCode.Internal);
    expect(wrapped.message).toBe('boom');
    expect(wrapped.cause).toBe(cause);
    expect(isRetryable(wrapped)).toBe(false);
    expect(UnderstudyError.from('plain')).toMatchObject({ code: 'INTERNAL', message: 'plain' });
  });

  it('returns the same instance when already coded', () => {
    const err = new UnderstudyError(ErrorCode.NotFound, 'no such model');
    expect(UnderstudyError.from(err)).toBe(err);
  });

  it('freezes details', () => {
    const err = new UnderstudyError(ErrorCode.InvalidArgument, 'bad', { details: { field: 'x' } });
    expect(Object.isFrozen(err.details)).toBe(true);
  });
});

describe('status mapping', () => {
  it.each([
    [ErrorCode.InvalidArgument, 400, status.INVALID_ARGUMENT],
    [ErrorCode.Unauthenticated, 401, status.UNAUTHENTICATED],
    [ErrorCode.PermissionDenied, 403, status.PERMISSION_DENIED],
    [ErrorCode.NotFound, 404, status.NOT_FOUND],
    [ErrorCode.PayloadTooLarge, 413, status.RESOURCE_EXHAUSTED],
    [ErrorCode.ResourceExhausted, 429, status.RESOURCE_EXHAUSTED],
    [ErrorCode.Unavailable, 503, status.UNAVAILABLE],
    [ErrorCode.FailedPrecondition, 412, status.FAILED_PRECONDITION],
  ])('%s maps to HTTP %i and gRPC %i', (code, http, grpc) => {
    expect(httpStatusOf(code)).toBe(http);
    expect(grpcStatusOf(code)).toBe(grpc);
  });

  it('round-trips gRPC statuses back to codes', () => {
    for (const code of Object.values(ErrorCode)) {
      if (code === ErrorCode.PayloadTooLarge) continue;
      expect(codeOfGrpcStatus(grpcStatusOf(code))).toBe(code);
    }
    expect(codeOfGrpcStatus(status.UNKNOWN)).toBe(ErrorCode.Internal);
  });
});
