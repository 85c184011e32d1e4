import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { S3Error } from 'minio';

const byS3Code: Readonly<Record<string, ErrorCode>> = {
  NoSuchKey: ErrorCode.NotFound,
  NotFound: ErrorCode.NotFound,
  NoSuchBucket: ErrorCode.FailedPrecondition,
  InvalidRange: ErrorCode.OutOfRange,
  AccessDenied: ErrorCode.PermissionDenied,
  AllAccessDisabled: ErrorCode.PermissionDenied,
  InvalidAccessKeyId: ErrorCode.Unauthenticated,
  SignatureDoesNotMatch: ErrorCode.Unauthenticated,
  ExpiredToken: ErrorCode.Unauthenticated,
  InvalidToken: ErrorCode.Unauthenticated,
  EntityTooLarge: ErrorCode.PayloadTooLarge,
  // Lost races with a concurrent writer of the same key: trying again succeeds.
  PreconditionFailed: ErrorCode.Aborted,
  NoSuchUpload: ErrorCode.Aborted,
  InvalidPart: ErrorCode.Aborted,
  SlowDown: ErrorCode.Unavailable,
  ServiceUnavailable: ErrorCode.Unavailable,
  RequestTimeout: ErrorCode.Unavailable,
  InternalError: ErrorCode.Unavailable,
  XMinioServerNotInitialized: ErrorCode.Unavailable,
  XMinioStorageFull: ErrorCode.ResourceExhausted,
};

const networkErrors = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * The client's own retry is turned off (it re-sends consumed streams and logs to the console),
 * so it reports a retryable HTTP status as a plain Error with this text.
 */
const retryableStatus = /Retryable HTTP status: (\d+)/;

export function fromMinioError(error: unknown): UnderstudyError {
  if (error instanceof UnderstudyError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof S3Error) {
    const s3Code = error.code ?? '';
    const code = byS3Code[s3Code] ?? ErrorCode.Internal;
    return new UnderstudyError(code, `Object store: ${message}`, {
      cause: error,
      details: { s3Code },
    });
  }
  const errno = error instanceof Error && 'code' in error ? error.code : undefined;
  if (typeof errno === 'string' && networkErrors.has(errno)) {
    return new UnderstudyError(ErrorCode.Unavailable, `Object store unreachable: ${message}`, {
      cause: error,
      details: { errno },
    });
  }
  const status = retryableStatus.exec(message)?.[1];
  if (status !== undefined) {
    return new UnderstudyError(ErrorCode.Unavailable, `Object store answered HTTP ${status}`, {
      cause: error,
      details: { httpStatus: Number(status) },
    });
  }
  return UnderstudyError.from(error);
}
