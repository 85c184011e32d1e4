import { createRegistry, fromBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { AnySchema } from '@bufbuild/protobuf/wkt';
import { googleRpc, googleRpcDetails } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { statusDetailsTrailer } from '@understudy/grpc';

/** A command line the CLI cannot run as given. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit statuses by class of failure, so that scripts can branch without parsing messages. */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  NotFound: 3,
  /** The registry refused the change as things stand: a guard, a stale etag or revision. */
  Conflict: 4,
  Denied: 5,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

function exitCodeOf(code: ErrorCode): ExitCode {
  switch (code) {
    // The server found the request malformed: a flag's value it does not accept.
    case ErrorCode.InvalidArgument:
    case ErrorCode.OutOfRange:
      return ExitCode.Usage;
    case ErrorCode.NotFound:
      return ExitCode.NotFound;
    case ErrorCode.FailedPrecondition:
    case ErrorCode.Aborted:
      return ExitCode.Conflict;
    case ErrorCode.Unauthenticated:
    case ErrorCode.PermissionDenied:
      return ExitCode.Denied;
    case ErrorCode.AlreadyExists:
    case ErrorCode.ResourceExhausted:
    case ErrorCode.PayloadTooLarge:
    case ErrorCode.Unavailable:
    case ErrorCode.DeadlineExceeded:
    case ErrorCode.Unimplemented:
    case ErrorCode.Cancelled:
    case ErrorCode.DataLoss:
    case ErrorCode.Internal:
      return ExitCode.Failed;
  }
}

/** What went wrong, as printed on stderr. */
export interface Failure {
  readonly exitCode: ExitCode;
  /** The gRPC status name, `USAGE` for a bad command line. */
  readonly code: string;
  readonly message: string;
  /** What the registry attached to the error, e.g. the violated guards. */
  readonly details: Readonly<Record<string, unknown>>;
  /** google.rpc.Status details (RetryInfo, BadRequest, …) as proto JSON. */
  readonly statusDetails: readonly JsonValue[];
}

export function failureOf(error: unknown): Failure {
  if (error instanceof UsageError) {
    return {
      exitCode: ExitCode.Usage,
      code: 'USAGE',
      message: error.message,
      details: {},
      statusDetails: [],
    };
  }
  const failure = UnderstudyError.from(error);
  return {
    exitCode: exitCodeOf(failure.code),
    code: failure.code,
    message: failure.message,
    details: failure.details,
    statusDetails: richDetails(failure.cause),
  };
}

const detailTypes = createRegistry(googleRpcDetails.file_google_rpc_error_details);

/**
 * The google.rpc.Status trailer of the failed call, which `errorOfStatus` keeps as the cause.
 * Read by shape, not class: the grpc-js that made the call need not be this package's copy.
 */
function richDetails(cause: unknown): JsonValue[] {
  if (typeof cause !== 'object' || cause === null || !('metadata' in cause)) return [];
  const { metadata } = cause;
  if (typeof metadata !== 'object' || metadata === null || !('get' in metadata)) return [];
  const get = metadata.get;
  if (typeof get !== 'function') return [];
  const [raw] = get.call(metadata, statusDetailsTrailer) as unknown[];
  if (!(raw instanceof Uint8Array)) return [];
  try {
    const status = fromBinary(googleRpc.StatusSchema, raw);
    return status.details.map((detail) => {
      try {
        return toJson(AnySchema, detail, { registry: detailTypes });
      } catch {
        // A detail type this CLI does not know: its name still tells what it was.
        return { '@type': detail.typeUrl };
      }
    });
  } catch {
    return [];
  }
}

/** `error: CODE: message`, then the details, one per line. */
export function renderFailure(failure: Failure): string {
  const lines = [`error: ${failure.code === 'USAGE' ? '' : `${failure.code}: `}${failure.message}`];
  for (const [key, value] of Object.entries(failure.details)) {
    if (Array.isArray(value)) {
      lines.push(`  ${key}:`, ...value.map((item) => `    - ${listItem(item)}`));
    } else {
      lines.push(`  ${key}: ${text(value)}`);
    }
  }
  for (const detail of failure.statusDetails) {
    const { '@type': type, ...fields } = detail as Record<string, JsonValue>;
    const name = typeof type === 'string' ? type.slice(type.lastIndexOf('.') + 1) : 'detail';
    lines.push(`  ${name}: ${JSON.stringify(fields)}`);
  }
  return lines.join('\n') + '\n';
}

/** The registry's refusals name each guard with its violations (`{guard, violations}`); said plainly. */
function listItem(value: unknown): string {
  if (typeof value !== 'object' || value === null) return text(value);
  const { guard, passed, violations } = value as Record<string, unknown>;
  if (typeof guard !== 'string') return text(value);
  if (passed === true) return `${guard}: passed`;
  const reasons = Array.isArray(violations) ? violations.map(text) : [];
  return `${guard}: ${reasons.length === 0 ? 'failed' : reasons.join('; ')}`;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The failure as one JSON document, for scripts that read stderr in `--output json` mode. */
export function failureJson(failure: Failure): string {
  const { code, message, details, statusDetails } = failure;
  return JSON.stringify({ error: { code, message, details, statusDetails } }, null, 2) + '\n';
}
