import { ErrorCode, UnderstudyError } from '@understudy/errors';
import {
  CannotExecuteNotConnectedError,
  ConnectionIsNotSetError,
  EntityNotFoundError,
  OptimisticLockVersionMismatchError,
  QueryFailedError,
} from 'typeorm';

/** The SQLSTATEs this library branches on (PostgreSQL manual, appendix A). */
export const SqlState = {
  UniqueViolation: '23505',
  ForeignKeyViolation: '23503',
  ExclusionViolation: '23P01',
  SerializationFailure: '40001',
  DeadlockDetected: '40P01',
  LockNotAvailable: '55P03',
  QueryCanceled: '57014',
  TooManyConnections: '53300',
  InvalidCatalogName: '3D000',
} as const;

/** The fields of pg's DatabaseError (and of Node's system errors) read here, typed structurally. */
interface DriverErrorFields {
  readonly code?: unknown;
  readonly severity?: unknown;
  readonly constraint?: unknown;
  readonly table?: unknown;
  readonly column?: unknown;
  readonly schema?: unknown;
}

/** Socket failures: the server is down, restarting or unreachable. */
const networkErrnos = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** pg, pg-pool and TypeORM raise these without a code when there is no usable connection. */
const connectionLostMessages = [
  'Driver not Connected',
  'Connection terminated',
  'timeout expired',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end',
];

/** TypeORM's wrapper carries the query parameters; the driver's error underneath does not. */
function driverErrorOf(error: unknown): unknown {
  return error instanceof QueryFailedError ? error.driverError : error;
}

function fieldsOf(error: unknown): DriverErrorFields {
  return typeof error === 'object' && error !== null ? error : {};
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The SQLSTATE of a failed query if the server answered; only server errors carry a severity. */
export function sqlStateOf(error: unknown): string | undefined {
  if (error instanceof UnderstudyError) return sqlStateOf(error.cause);
  const fields = fieldsOf(driverErrorOf(error));
  return stringField(fields.severity) === undefined ? undefined : stringField(fields.code);
}

function isConnectionFailure(error: unknown): boolean {
  if (error instanceof AggregateError) return error.errors.some(isConnectionFailure);
  if (error instanceof CannotExecuteNotConnectedError || error instanceof ConnectionIsNotSetError) {
    return true;
  }
  const code = stringField(fieldsOf(error).code);
  if (code !== undefined && networkErrnos.has(code)) return true;
  if (error instanceof Error) {
    const { message } = error;
    return (
      connectionLostMessages.some((prefix) => message.startsWith(prefix)) ||
      isConnectionFailure(error.cause)
    );
  }
  return false;
}

/** Maps a SQLSTATE to a code; without an exact entry, its class (first two characters) decides. */
function codeOfSqlState(state: string): { code: ErrorCode; retryable?: boolean } {
  switch (state) {
    case SqlState.UniqueViolation:
    case SqlState.ExclusionViolation:
      return { code: ErrorCode.AlreadyExists };
    case SqlState.ForeignKeyViolation:
      return { code: ErrorCode.FailedPrecondition };
    case SqlState.SerializationFailure:
    case SqlState.DeadlockDetected:
    case SqlState.LockNotAvailable:
      return { code: ErrorCode.Aborted, retryable: true };
    case SqlState.QueryCanceled:
      return { code: ErrorCode.DeadlineExceeded };
    case SqlState.TooManyConnections:
      return { code: ErrorCode.Unavailable, retryable: true };
    case SqlState.InvalidCatalogName:
      // A missing database is a deployment mistake: waiting will not create it.
      return { code: ErrorCode.Unavailable, retryable: false };
  }
  switch (state.slice(0, 2)) {
    case '08': // connection exception
    case '57': // operator intervention: shutdown, restart, cannot connect now
      return { code: ErrorCode.Unavailable, retryable: true };
    case '28': // invalid authorization: wrong credentials are not fixed by retrying
      return { code: ErrorCode.Unavailable, retryable: false };
    case '53': // insufficient resources: disk full, out of memory
      return { code: ErrorCode.ResourceExhausted };
    case '22': // data exception: bad input value
    case '23': // integrity constraint violation: not null, check
      return { code: ErrorCode.InvalidArgument };
    default:
      return { code: ErrorCode.Internal };
  }
}

/** Names of the schema objects involved, never row values (pg's `detail` can hold them). */
function detailsOf(driverError: unknown, sqlState: string | undefined): Record<string, string> {
  const fields = fieldsOf(driverError);
  const details: Record<string, string> = {};
  if (sqlState !== undefined) details['sqlState'] = sqlState;
  for (const key of ['constraint', 'table', 'column', 'schema'] as const) {
    const value = stringField(fields[key]);
    if (value !== undefined) details[key] = value;
  }
  return details;
}

/**
 * Turns anything a TypeORM/pg call threw into an UnderstudyError, for use at the repository
 * boundary. The cause is the driver's own error, never TypeORM's wrapper, because the wrapper
 * carries the query parameters, which may hold user content.
 */
export function mapDatabaseError(error: unknown): UnderstudyError {
  if (error instanceof UnderstudyError) return error;
  if (error instanceof EntityNotFoundError) {
    return new UnderstudyError(ErrorCode.NotFound, error.message, { cause: error });
  }
  if (error instanceof OptimisticLockVersionMismatchError) {
    return new UnderstudyError(ErrorCode.Aborted, error.message, { cause: error });
  }
  const driverError = driverErrorOf(error);
  const message = driverError instanceof Error ? driverError.message : String(driverError);
  const sqlState = sqlStateOf(error);
  const details = detailsOf(driverError, sqlState);
  if (sqlState !== undefined) {
    const { code, retryable } = codeOfSqlState(sqlState);
    return new UnderstudyError(code, message, {
      cause: driverError,
      details,
      ...(retryable === undefined ? {} : { retryable }),
    });
  }
  if (isConnectionFailure(driverError)) {
    return new UnderstudyError(ErrorCode.Unavailable, `database unavailable: ${message}`, {
      cause: driverError,
      details,
    });
  }
  if (driverError instanceof Error && driverError.message === 'Query read timeout') {
    return new UnderstudyError(ErrorCode.DeadlineExceeded, message, { cause: driverError });
  }
  return new UnderstudyError(ErrorCode.Internal, message, { cause: driverError, details });
}

/** For `.catch(rethrowDatabaseError)` at the repository boundary. */
export function rethrowDatabaseError(error: unknown): never {
  throw mapDatabaseError(error);
}

/** Runs repository work; whatever it throws leaves as an UnderstudyError (mapDatabaseError). */
export async function withDatabaseErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapDatabaseError(error);
  }
}
