import { ErrorCode, UnderstudyError } from '@understudy/errors';

/** Fails with INVALID_ARGUMENT naming every empty field. */
export function requireFields(fields: Readonly<Record<string, string>>): void {
  const missing = Object.entries(fields)
    .filter(([, value]) => value === '')
    .map(([name]) => name);
  if (missing.length > 0) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, `${missing.join(', ')} must be set`, {
      details: { fields: missing },
    });
  }
}

/** What a repeated create gets when its request_id was first used for a different request. */
export function requestReused(requestId: string): UnderstudyError {
  return new UnderstudyError(
    ErrorCode.AlreadyExists,
    `request_id ${requestId} was already used for a different request`,
  );
}

export function notFound(kind: string, id: string): UnderstudyError {
  return new UnderstudyError(ErrorCode.NotFound, `${kind} ${id} not found`);
}
