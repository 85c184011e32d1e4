import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { sweepLeftovers } from './leftovers.js';

/** The checkout this package lives in (from libs/testbed/src or libs/testbed/dist alike). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Run state: one folder per process that starts servers, holding their data, configs and logs. */
export const stateRoot = join(repoRoot, '.state', 'testbed');

/** Downloads and builds, shared by checkouts and runs; UNDERSTUDY_CACHE moves it (e.g. in CI). */
export function cacheRoot(): string {
  const configured = process.env['UNDERSTUDY_CACHE'];
  return configured === undefined || configured === ''
    ? join(homedir(), '.cache', 'understudy')
    : configured;
}

let currentRun: Promise<string> | undefined;

async function createRunDir(): Promise<string> {
  await mkdir(stateRoot, { recursive: true });
  await sweepLeftovers(stateRoot);
  const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
  const dir = join(stateRoot, `${stamp}-${String(process.pid)}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}

/**
 * A new folder for one server, `<run>/<name>` (`<name>-2`… if this process already used the
 * name). The first call of a process creates its run folder after sweeping leftovers of crashed
 * runs.
 */
export async function serverDir(name: string): Promise<string> {
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, `bad server name "${name}"`);
  }
  currentRun ??= createRunDir();
  const run = await currentRun;
  for (let n = 1; ; n++) {
    const dir = join(run, n === 1 ? name : `${name}-${String(n)}`);
    try {
      await mkdir(dir);
      return dir;
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
  }
}
