import { spawn, type ChildProcess } from 'node:child_process';
import { open, rm, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { isGroupAlive, killGroup, register, unregister } from './leftovers.js';
import { lastLines, type Ownership } from './tools.js';

/**
 * Runs a server so that it cannot outlive the process that started it, even one killed with
 * SIGKILL: bash starts the server, then waits on the pipe that is its stdin. The pipe reaches EOF
 * when its only writer, the owner, closes it (stop()) or dies; bash then sends the stop signal and,
 * after the grace period, SIGKILL. When the server exits, bash takes the rest of its process group
 * (the watcher and anything the server left behind) down with it.
 * Usage: bash -c WATCHDOG understudy-testbed <stop signal> <grace seconds> <command> [args...]
 * (with --norc: bash reads ~/.bashrc when its stdin is a socket, as Node's pipes are).
 */
const WATCHDOG = `
signal=$1 grace=$2
shift 2
exec 3<&0 0</dev/null
"$@" 3<&- &
server=$!
{ cat <&3 >/dev/null; kill -s "$signal" "$server"; sleep "$grace"; kill -s KILL "$server"; } 2>/dev/null &
exec 3<&-
wait "$server"
status=$?
trap '' TERM
kill -s TERM 0 2>/dev/null
exit "$status"
`;

export interface LaunchOptions {
  /** For messages: kafka, minio, postgres. */
  readonly name: string;
  /** The server's folder: its registration lives there and its command line must name it. */
  readonly dir: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly logFile: string;
  /** How the server asks to be stopped; PostgreSQL's "fast" shutdown is SIGINT. */
  readonly stopSignal: 'SIGTERM' | 'SIGINT';
  readonly graceSeconds?: number;
  readonly user?: Ownership;
  /** Whether the server serves yet, given what it has logged since this launch. */
  readonly isReady: (log: string) => Promise<boolean> | boolean;
  readonly timeoutMs: number;
}

async function sizeOf(file: string): Promise<number> {
  return stat(file).then(
    (stats) => stats.size,
    () => 0,
  );
}

async function readFrom(file: string, offset: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.max(0, size - offset));
    await handle.read(buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** Why the process ended: a signal, an exit code or the reason it could not start. */
function exitOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(signal ?? `exit code ${String(code)}`);
    });
    child.once('error', (error) => {
      resolve(error.message);
    });
  });
}

/** One running server under its watchdog. */
export class ServerProcess {
  /** The watchdog's pid, which leads the process group of everything it started. */
  readonly processGroup: number;
  private readonly options: LaunchOptions;
  private readonly child: ChildProcess;
  private exitReason: string | undefined;

  private constructor(
    options: LaunchOptions,
    child: ChildProcess,
    processGroup: number,
    exit: Promise<string>,
  ) {
    this.options = options;
    this.child = child;
    this.processGroup = processGroup;
    void exit.then((reason) => {
      this.exitReason = reason;
    });
  }

  /**
   * Starts the server and waits until `isReady`. A failure names the log file and quotes the
   * lines the server wrote; its details say whether the port was taken (see withFreePorts).
   */
  static async launch(options: LaunchOptions): Promise<ServerProcess> {
    const offset = await sizeOf(options.logFile);
    const log = await open(options.logFile, 'a');
    const grace = options.graceSeconds ?? 10;
    let child: ChildProcess;
    let exit: Promise<string>;
    try {
      child = spawn(
        'bash',
        [
          '--norc',
          '--noprofile',
          '-c',
          WATCHDOG,
          'understudy-testbed',
          options.stopSignal,
          String(grace),
        ].concat(options.command, options.args),
        {
          cwd: options.dir,
          env: options.env,
          detached: true,
          stdio: ['pipe', log.fd, log.fd],
          ...options.user,
        },
      );
      exit = exitOf(child);
    } finally {
      await log.close();
    }
    const pid = child.pid;
    if (pid === undefined) {
      throw new UnderstudyError(ErrorCode.FailedPrecondition, `cannot run bash: ${await exit}`);
    }
    // Neither the watchdog nor its pipe keeps the owner alive: when the owner exits, so do they.
    child.unref();
    if (child.stdin instanceof Socket) child.stdin.unref();
    const server = new ServerProcess(options, child, pid, exit);
    await register(options.dir, pid);
    await server.waitUntilReady(offset);
    return server;
  }

  private async waitUntilReady(offset: number): Promise<void> {
    const { name, logFile, isReady, timeoutMs } = this.options;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exited = this.exitReason;
      const log = await readFrom(logFile, offset);
      let reason: string | undefined;
      if (exited !== undefined) reason = `exited (${exited}) before it was ready`;
      else if (await isReady(log)) return;
      else if (Date.now() > deadline) reason = `was not ready after ${timeoutMs / 1000}s`;
      if (reason !== undefined) {
        await this.stop();
        throw new UnderstudyError(
          ErrorCode.Unavailable,
          `${name} ${reason}; log ${logFile}, last lines:\n${lastLines(log)}`,
          { details: { logFile, portInUse: /address already in use/i.test(log) } },
        );
      }
      await delay(100);
    }
  }

  /**
   * Clean stop: the watchdog sends the stop signal and SIGKILL after the grace period. Returns
   * when every process of the group is gone. Safe to call twice.
   */
  async stop(): Promise<void> {
    this.child.ref(); // the owner waits for the server now
    this.child.stdin?.end();
    const deadline = Date.now() + (this.options.graceSeconds ?? 10) * 1000 + 5000;
    while (await isGroupAlive(this.processGroup)) {
      if (Date.now() > deadline) {
        killGroup(this.processGroup, 'SIGKILL'); // only if the watchdog itself hangs
        break;
      }
      await delay(50);
    }
    this.child.unref();
    await unregister(this.options.dir);
  }
}

/** A server that can be restarted on the same ports and data, and stopped for good. */
export interface RestartableServer {
  /** The watchdog's process group; changes on restart. */
  readonly processGroup: number;
  /** Stops the server and deletes its data. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same ports with the same data. */
  restart(): Promise<void>;
}

/** Launches a server whose `launch` can be repeated over the same `dataDir`. */
export async function launchRestartable(
  launch: () => Promise<ServerProcess>,
  dataDir: string,
): Promise<RestartableServer> {
  let server = await launch();
  return {
    get processGroup() {
      return server.processGroup;
    },
    async stop() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await server.stop();
      server = await launch();
    },
  };
}
