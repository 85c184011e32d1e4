import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, appendFile } from 'node:fs/promises';
import { basename, delimiter, join } from 'node:path';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

export const INSTALL_JAVA =
  'install a Java 17+ runtime and Maven, e.g. `apt-get install openjdk-17-jre-headless maven`';

/** A user to run a server as (PostgreSQL refuses root). */
export interface Ownership {
  readonly uid: number;
  readonly gid: number;
}

/** The absolute path of `command` on PATH, or an error that says what to install. */
export async function requireTool(command: string, install: string): Promise<string> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  throw new UnderstudyError(
    ErrorCode.FailedPrecondition,
    `${command} is not installed (not found on PATH); ${install}`,
  );
}

export function lastLines(text: string, count = 30): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly user?: Ownership;
  /** Copies the tool's output to stderr as it comes: progress for slow downloads and builds. */
  readonly echo?: boolean;
  /** Appends the tool's output to this file (the log of the server it prepares). */
  readonly logFile?: string;
}

/** Runs a tool to completion and returns its output; a failure quotes the output's end. */
export async function runTool(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  const chunks: Buffer[] = [];
  const outcome = await new Promise<string | undefined>((resolve) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...options.user,
    });
    const collect = (chunk: Buffer): void => {
      chunks.push(chunk);
      if (options.echo === true) process.stderr.write(chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (error) => {
      resolve(error.message);
    });
    child.once('close', (code, signal) => {
      resolve(code === 0 ? undefined : `exit ${signal ?? String(code)}`);
    });
  });
  const output = Buffer.concat(chunks).toString('utf8');
  if (options.logFile !== undefined) await appendFile(options.logFile, output);
  if (outcome !== undefined) {
    const where = options.logFile === undefined ? '' : ` (log ${options.logFile})`;
    throw new UnderstudyError(
      ErrorCode.Unavailable,
      `${basename(command)} ${args.join(' ')} failed: ${outcome}${where}\n${lastLines(output)}`,
    );
  }
  return output;
}
