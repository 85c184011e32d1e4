import { status as GrpcStatus } from '@grpc/grpc-js';

/**
 * The one vocabulary of failure across Understudy. Names follow the canonical gRPC codes so
 * that every edge (HTTP, gRPC, Kafka consumers) can map them without a lookup table per domain.
 */
export const ErrorCode = {
  InvalidArgument: 'INVALID_ARGUMENT',
  NotFound: 'NOT_FOUND',
  AlreadyExists: 'ALREADY_EXISTS',
  FailedPrecondition: 'FAILED_PRECONDITION',
  Aborted: 'ABORTED',
  OutOfRange: 'OUT_OF_RANGE',
  Unauthenticated: 'UNAUTHENTICATED',
  PermissionDenied: 'PERMISSION_DENIED',
  ResourceExhausted: 'RESOURCE_EXHAUSTED',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  Unavailable: 'UNAVAILABLE',
  DeadlineExceeded: 'DEADLINE_EXCEEDED',
  Unimplemented: 'UNIMPLEMENTED',
  Cancelled: 'CANCELLED',
  DataLoss: 'DATA_LOSS',
  Internal: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

interface CodeTraits {
  readonly http: number;
  readonly grpc: GrpcStatus;
  /** Whether trying the same thing again later can succeed. */
  readonly retryable: boolean;
}

const traits: Record<ErrorCode, CodeTraits> = {
  INVALID_ARGUMENT: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, retryable: false },
  NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, retryable: false },
  ALREADY_EXISTS: { http: 409, grpc: GrpcStatus.ALREADY_EXISTS, retryable: false },
  FAILED_PRECONDITION: { http: 412, grpc: GrpcStatus.FAILED_PRECONDITION, retryable: false },
  ABORTED: { http: 409, grpc: GrpcStatus.ABORTED, retryable: true },
  OUT_OF_RANGE: { http: 400, grpc: GrpcStatus.OUT_OF_RANGE, retryable: false },
  UNAUTHENTICATED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED, retryable: false },
  PERMISSION_DENIED: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED, retryable: false },
  RESOURCE_EXHAUSTED: { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED, retryable: true },
  PAYLOAD_TOO_LARGE: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED, retryable: false },
  UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE, retryable: true },
  DEADLINE_EXCEEDED: { http: 504, grpc: GrpcStatus.DEADLINE_EXCEEDED, retryable: true },
  UNIMPLEMENTED: { http: 501, grpc: GrpcStatus.UNIMPLEMENTED, retryable: false },
  CANCELLED: { http: 499, grpc: GrpcStatus.CANCELLED, retryable: false },
  DATA_LOSS: { http: 500, grpc: GrpcStatus.DATA_LOSS, retryable: false },
  INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL, retryable: false },
};

export function httpStatusOf(code: ErrorCode): number {
  return traits[code].http;
}

export function grpcStatusOf(code: ErrorCode): GrpcStatus {
  return traits[code].grpc;
}

export function isRetryableCode(code: ErrorCode): boolean {
  return traits[code].retryable;
}

const byGrpc = new Map<GrpcStatus, ErrorCode>(
  (Object.entries(traits) as [ErrorCode, CodeTraits][])
    .filter(([code]) => code !== ErrorCode.PayloadTooLarge)
    .map(([code, t]) => [t.grpc, code]),
);

/** The code for a gRPC status received from a peer (clients turn remote failures back into data). */
export function codeOfGrpcStatus(status: GrpcStatus): ErrorCode {
  return byGrpc.get(status) ?? ErrorCode.Internal;
}
