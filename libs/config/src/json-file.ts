import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { z } from 'zod';

/**
 * Parses the content of a JSON file (e.g. one mounted from a Secret) against `schema`. Errors are
 * INVALID_ARGUMENT and name the file by `source`, each problem by its path, and say what it should
 * be (`what`: "a principals file"); they never echo the content, not even as a cause: JSON.parse's
 * own message quotes the text around a mistake, which may be a secret.
 */
export function parseJsonFile<S extends z.ZodType>(
  json: string,
  source: string,
  schema: S,
  what: string,
): z.output<S> {
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch {
    throw new UnderstudyError(ErrorCode.InvalidArgument, `${source} is not JSON`);
  }
  const parsed = schema.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `${source} is not ${what}: ${problems.join('; ')}`,
    );
  }
  return parsed.data;
}
