import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { exists, seconds, type Progress } from './artifacts.js';
import { cacheRoot } from './paths.js';
import { requireTool, runTool } from './tools.js';

export interface PythonEnvOptions {
  /** Names the venv's folder and its progress lines, e.g. `embedder`. */
  readonly name: string;
  /** A requirements file that pins every package, dependencies included. */
  readonly lockFile: string;
  /**
   * A Python script the new venv runs once, after the install, e.g. to assemble model files from
   * the installed packages; `sys.prefix` is the venv's folder.
   */
  readonly setup?: string;
  /** How long a cold build takes here, for the progress line. */
  readonly buildTime?: string;
}

export interface PythonEnv {
  /** The venv's folder. */
  readonly dir: string;
  /** Its interpreter. */
  readonly python: string;
}

/**
 * How packages are installed: the lock is the whole truth (no resolver, so no package the lock
 * does not name) and nothing is built from source. Part of the cache key with the lock and the
 * setup script, so changing any of them builds a new venv beside the old one.
 */
const INSTALL = ['--no-deps', '--only-binary=:all:'];

/** Written last: a venv without it is an interrupted build, deleted and built again. */
const COMPLETE = '.complete';

async function cacheKey(options: PythonEnvOptions): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(INSTALL));
  hash.update(await readFile(options.lockFile));
  if (options.setup !== undefined) hash.update(await readFile(options.setup));
  return hash.digest('hex').slice(0, 16);
}

/** The interpreter that creates venvs: UNDERSTUDY_PYTHON, else python3 (checked to be on PATH). */
async function basePython(): Promise<string> {
  const configured = process.env['UNDERSTUDY_PYTHON'];
  const python = configured === undefined || configured === '' ? 'python3' : configured;
  if (python.includes('/')) return python;
  return requireTool(python, 'install Python 3.11+ and its venv module (python3 python3-venv)');
}

/**
 * Takes flock(1)'s exclusive lock on `file`, held by a child that waits on its stdin: release()
 * closes the pipe, and so does the end of this process, however it ends.
 */
async function lockExclusively(file: string): Promise<() => Promise<void>> {
  const flock = await requireTool('flock', 'install util-linux (it provides flock)');
  const child = spawn(flock, [file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(signal ?? `exit code ${String(code)}`);
    });
    child.once('error', (error) => {
      resolve(error.message);
    });
  });
  const locked = new Promise<void>((resolve) => {
    child.stdout.once('data', () => {
      resolve();
    });
  });
  const failure = await Promise.race([locked.then(() => undefined), exited]);
  if (failure !== undefined) {
    throw new UnderstudyError(
      ErrorCode.Unavailable,
      `cannot lock ${file}: flock ${failure} ${stderr}`.trim(),
    );
  }
  return async () => {
    child.stdin.end();
    await exited;
  };
}

/**
 * A virtual environment with exactly the packages of `lockFile`, built on first use and cached
 * under `<cache>/python/<name>-<key>` for every checkout and run with the same lock. Parallel
 * callers wait for one build. The first build downloads from PyPI; `progress` hears about it and
 * pip's output.
 */
export async function pythonEnv(
  options: PythonEnvOptions,
  progress?: Progress,
): Promise<PythonEnv> {
  const root = join(cacheRoot(), 'python');
  const dir = join(root, `${options.name}-${await cacheKey(options)}`);
  const env = { dir, python: join(dir, 'bin', 'python') };
  if (await exists(join(dir, COMPLETE))) return env;
  await mkdir(root, { recursive: true });
  const release = await lockExclusively(`${dir}.lock`);
  try {
    if (await exists(join(dir, COMPLETE))) return env; // built while this caller waited
    await rm(dir, { recursive: true, force: true });
    const base = await basePython();
    const echo = progress !== undefined;
    const started = Date.now();
    const version = (await runTool(base, ['--version'])).trim();
    const took = options.buildTime === undefined ? '' : ` (${options.buildTime})`;
    progress?.(`${options.name} venv: creating ${dir} with ${version}${took}`);
    await runTool(base, ['-m', 'venv', dir]);
    await runTool(
      env.python,
      [
        ...['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off'],
        ...INSTALL,
        ...['-r', options.lockFile],
      ],
      { echo },
    );
    if (options.setup !== undefined) await runTool(env.python, [options.setup], { echo });
    await writeFile(join(dir, COMPLETE), '');
    progress?.(`${options.name} venv: ready in ${seconds(started)}`);
    return env;
  } finally {
    await release();
  }
}
