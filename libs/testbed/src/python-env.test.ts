import { execFile } from 'node:child_process';
import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode } from '@understudy/errors';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pythonEnv, type PythonEnvOptions } from './python-env.js';

/**
 * Real venvs from the machine's python3, from locks that pin nothing (no PyPI): each build takes
 * a few seconds, most of it ensurepip.
 */
const BUILDS = 60_000;

let work: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'testbed-python-'));
  vi.stubEnv('UNDERSTUDY_CACHE', join(work, 'cache'));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(work, { recursive: true, force: true });
});

/** A lock, and a setup script that records each run in `setup.log` beside them. */
async function spec(setupBody = ''): Promise<PythonEnvOptions> {
  const lockFile = join(work, 'requirements.lock');
  await writeFile(lockFile, '# no packages\n');
  const setup = join(work, 'setup.py');
  const log = join(work, 'setup.log');
  await writeFile(
    setup,
    `import sys\n${setupBody}\nwith open(${JSON.stringify(log)}, "a") as f: f.write(sys.prefix + "\\n")\n`,
  );
  return { name: 'sample', lockFile, setup };
}

async function setupRuns(): Promise<string[]> {
  const text = await readFile(join(work, 'setup.log'), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line !== '');
}

describe('pythonEnv', () => {
  it(
    'builds once for parallel callers, runs the setup in the venv, then reuses it',
    async () => {
      const options = await spec();
      // Whichever caller takes the lock first builds, and tells its progress.
      const messages: string[] = [];
      const progress = (message: string) => messages.push(message);
      const [first, second] = await Promise.all([
        pythonEnv(options, progress),
        pythonEnv(options, progress),
      ]);
      expect(second).toEqual(first);
      expect(first.dir).toMatch(new RegExp(`^${work}/cache/python/sample-[0-9a-f]{16}$`));
      expect(first.python).toBe(join(first.dir, 'bin', 'python'));
      const { stdout } = await promisify(execFile)(first.python, [
        '-c',
        'import sys; print(sys.prefix)',
      ]);
      expect(stdout.trim()).toBe(first.dir);
      expect(await setupRuns()).toEqual([first.dir]);
      expect(messages).toEqual([
        expect.stringMatching(/^sample venv: creating .* with Python 3\.\d+\.\d+$/),
        expect.stringMatching(/^sample venv: ready in \d+\.\ds$/),
      ]);

      expect(await pythonEnv(options)).toEqual(first);
      expect(await setupRuns()).toHaveLength(1);
    },
    BUILDS,
  );

  it(
    'builds a new venv beside the old one when the lock or the setup script changes',
    async () => {
      const options = await spec();
      const built = [(await pythonEnv(options)).dir];
      await writeFile(options.lockFile, '# no packages, still\n');
      built.push((await pythonEnv(options)).dir);
      await writeFile(options.setup!, 'print("a new setup")\n');
      built.push((await pythonEnv(options)).dir);
      expect(new Set(built).size).toBe(3);
      await Promise.all(built.map((dir) => access(join(dir, '.complete'))));
    },
    BUILDS,
  );

  it(
    'builds again over an interrupted build',
    async () => {
      const options = await spec();
      const { dir } = await pythonEnv(options);
      await rm(join(dir, '.complete'));
      await writeFile(join(dir, 'left-behind'), '');
      expect((await pythonEnv(options)).dir).toBe(dir);
      await expect(access(join(dir, 'left-behind'))).rejects.toThrow();
      expect(await setupRuns()).toEqual([dir, dir]);
    },
    BUILDS,
  );

  it(
    'fails with the output of a failing step and leaves the venv incomplete',
    async () => {
      const options = await spec('sys.exit("no model here")');
      const failure = pythonEnv(options);
      await expect(failure).rejects.toMatchObject({ code: ErrorCode.Unavailable });
      await expect(failure).rejects.toThrow(/setup\.py failed: exit 1\nno model here$/);
      const venvs = join(work, 'cache', 'python');
      const [name] = (await readdir(venvs)).filter((entry) => !entry.endsWith('.lock'));
      await access(join(venvs, name!, 'bin', 'python'));
      await expect(access(join(venvs, name!, '.complete'))).rejects.toThrow();
    },
    BUILDS,
  );
});
