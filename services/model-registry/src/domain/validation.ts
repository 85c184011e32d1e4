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

/**
 * The fields an update changes: those its field mask names, all of `updatable` when the mask is
 * empty or `*` (AIP-134). A path that is not updatable is INVALID_ARGUMENT.
 */
export function maskedFields<Field extends string>(
  paths: readonly string[],
  updatable: readonly Field[],
): Set<Field> {
  if (paths.length === 0 || (paths.length === 1 && paths[0] === '*')) return new Set(updatable);
  const unknown = paths.filter((path) => !updatable.some((field) => field === path));
  if (unknown.length > 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `update_mask may name ${updatable.join(', ')}; not ${unknown.join(', ')}`,
      { details: { fields: unknown.map((path) => `update_mask.paths[${path}]`) } },
    );
  }
  return new Set(updatable.filter((field) => paths.includes(field)));
}
