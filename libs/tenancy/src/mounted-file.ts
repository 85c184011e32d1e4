import { readFile } from 'node:fs/promises';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

/** Reads a file mounted from a Secret; one that cannot be read stops the boot, naming it. */
export async function readMountedFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UnderstudyError(ErrorCode.FailedPrecondition, `cannot read ${what} ${path}`, {
      cause: error,
    });
  }
}
