import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { S3Error } from 'minio';
import { describe, expect, it } from 'vitest';
import { fromMinioError } from './minio-errors.js';

function s3Error(code: string): S3Error {
  const error = new S3Error(`failed with ${code}`);
  error.code = code;
  return error;
}

describe('fromMinioError', () => {
  it.each([
    ['NoSuchKey', ErrorCode.NotFound, false],
    ['NotFound', ErrorCode.NotFound, false],
    ['NoSuchBucket', ErrorCode.FailedPrecondition, false],
    ['InvalidRange', ErrorCode.OutOfRange, false],
    ['AccessDenied', ErrorCode.PermissionDenied, false],
    ['SignatureDoesNotMatch', ErrorCode.Unauthenticated, false],
    ['PreconditionFailed', ErrorCode.Aborted, true],
    ['SlowDown', ErrorCode.Unavailable, true],
    ['XMinioServerNotInitialized', ErrorCode.Unavailable, true],
    ['SomethingNew', ErrorCode.Internal, false],
  ])('maps S3 code %s to %s', (s3Code, code, retryable) => {
    const mapped = fromMinioError(s3Error(s3Code));
    expect(mapped).toMatchObject({ code, retryable, details: { s3Code } });
  });

  it('treats connection failures as retryable Unavailable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
    });
    expect(fromMinioError(refused)).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });
  });

  it('recognises the client’s report of a retryable HTTP status', () => {
    const error = new Error('Request failed after 0 retries: Error: Retryable HTTP status: 503');
    expect(fromMinioError(error)).toMatchObject({
      code: ErrorCode.Unavailable,
      details: { httpStatus: 503 },
    });
  });

  it('passes coded errors through and wraps the rest as internal', () => {
    const coded = new UnderstudyError(ErrorCode.InvalidArgument, 'bad key');
    expect(fromMinioError(coded)).toBe(coded);
    expect(fromMinioError(new TypeError('bug'))).toMatchObject({ code: ErrorCode.Internal });
  });
});
