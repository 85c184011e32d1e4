import { create, toBinary } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { googleRpc, googleRpcDetails } from '@understudy/contracts';
import { ErrorCode, UnderstudyError, codeOfGrpcStatus, grpcStatusOf } from '@understudy/errors';

/**
 * Trailer carrying the exact `UnderstudyError` code, retry classification and details, so a
 * client gets back what the server threw even where several codes share one gRPC status.
 */
export const errorTrailer = 'understudy-error-bin';

interface ErrorTrailer {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * gRPC's standard rich-error trailer: a google.rpc.Status that clients in any language decode,
 * with a google.rpc.RetryInfo when the server knows how long to wait (OTLP exporters, for one,
 * retry RESOURCE_EXHAUSTED only when it is there).
 */
export const statusDetailsTrailer = 'grpc-status-details-bin';

const errorCodes = new Set<string>(Object.values(ErrorCode));

/**
 * What the server answers for a failure; internal ones keep their message to the logs only.
 * `retryDelaySeconds`, when given, tells the caller how long to wait before trying again.
 */
export function statusOfError(error: UnderstudyError, retryDelaySeconds?: number): StatusObject {
  const internal = error.code === ErrorCode.Internal;
  const trailer: ErrorTrailer = internal
    ? { code: error.code, retryable: error.retryable }
    : { code: error.code, retryable: error.retryable, details: error.details };
  const code = grpcStatusOf(error.code);
  const details = internal ? 'internal error' : error.message;
  const metadata = new Metadata();
  metadata.set(errorTrailer, encode(trailer));
  metadata.set(statusDetailsTrailer, richStatus(code, details, retryDelaySeconds));
  return { code, details, metadata };
}

function richStatus(code: status, message: string, retryDelaySeconds: number | undefined): Buffer {
  // A delay that is no duration (negative, infinite, NaN) is left out rather than failing the call.
  const retryInfo =
    retryDelaySeconds !== undefined && Number.isFinite(retryDelaySeconds) && retryDelaySeconds >= 0
      ? [anyPack(googleRpcDetails.RetryInfoSchema, retryInfoOf(retryDelaySeconds))]
      : [];
  const rich = create(googleRpc.StatusSchema, { code, message, details: retryInfo });
  return Buffer.from(toBinary(googleRpc.StatusSchema, rich));
}

function retryInfoOf(seconds: number): googleRpcDetails.RetryInfo {
  const whole = Math.floor(seconds);
  return create(googleRpcDetails.RetryInfoSchema, {
    retryDelay: {
      seconds: BigInt(whole),
      nanos: Math.min(999_999_999, Math.round((seconds - whole) * 1e9)),
    },
  });
}

/** Details that JSON cannot carry (a bigint, a cycle) are dropped rather than failing the call. */
function encode(trailer: ErrorTrailer): Buffer {
  try {
    return Buffer.from(JSON.stringify(trailer));
  } catch {
    return Buffer.from(JSON.stringify({ code: trailer.code, retryable: trailer.retryable }));
  }
}

/** `DEADLINE_EXCEEDED` for 4; the number itself for codes gRPC does not define. */
export function statusName(code: number): string {
  return statusNames.get(code) ?? String(code);
}

/** Names by number; a plain Map, so numbers from the wire need not be enum members. */
const statusNames = new Map<number, string>(
  Object.entries(status).flatMap(([name, code]) =>
    typeof code === 'number' ? [[code as number, name] as const] : [],
  ),
);

/** The `UnderstudyError` for a failed call, as precise as the server let us know. */
export function errorOfStatus(error: ServiceError): UnderstudyError {
  const trailer = readTrailer(error);
  const code = trailer?.code ?? codeOfGrpcStatus(error.code);
  return new UnderstudyError(code, error.details || statusName(error.code), {
    cause: error,
    ...(trailer && { retryable: trailer.retryable }),
    ...(trailer?.details && { details: trailer.details }),
  });
}

/** Only a well-formed trailer agreeing with the wire status is trusted (proxies may rewrite). */
function readTrailer(error: ServiceError): ErrorTrailer | undefined {
  const [raw] = error.metadata.get(errorTrailer);
  if (!(raw instanceof Buffer)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { code, retryable, details } = parsed as Record<string, unknown>;
  if (typeof code !== 'string' || !errorCodes.has(code)) return undefined;
  if (grpcStatusOf(code as ErrorCode) !== error.code || typeof retryable !== 'boolean') {
    return undefined;
  }
  const detailsOk = typeof details === 'object' && details !== null && !Array.isArray(details);
  return {
    code: code as ErrorCode,
    retryable,
    ...(detailsOk && { details: details as Record<string, unknown> }),
  };
}
