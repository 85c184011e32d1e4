import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { isPortOpen, LOOPBACK } from './ports.js';
import { lastLines } from './tools.js';

/**
 * Preloaded into the service: when its starter goes away, killed or not, the IPC channel closes
 * and the service is stopped as an orchestrator would stop it (SIGTERM). The channel does not
 * keep the service alive by itself.
 */
const GUARD =
  'data:text/javascript,' +
  encodeURIComponent(
    "process.channel?.unref(); process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));",
  );

let ticksPerSecond: number | undefined;

export interface ServiceProcessOptions {
  /** For messages: the service's name. */
  readonly name: string;
  /** A module from bundleService. */
  readonly bundle: string;
  /** Its configuration; NODE_ENV is `production` unless set here. */
  readonly env: Readonly<Record<string, string>>;
  /** Its ops port (UNDERSTUDY_OPS_PORT, set here on loopback): ready once /readyz answers 200. */
  readonly opsPort: number;
  /**
   * Loopback ports it serves on (gRPC, HTTP), which must accept connections too: /readyz can
   * answer before the application has finished starting.
   */
  readonly servingPorts?: readonly number[];
  /** Its stdout and stderr are appended here. */
  readonly logFile: string;
  readonly cwd?: string;
  /** Flags for `node` itself, e.g. `--cpu-prof`. */
  readonly nodeOptions?: readonly string[];
  readonly readyTimeoutMs?: number;
}

/** How a process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A service built by bundleService, running as its own process as in its image: its pid, CPU and
 * memory are its own, and a test can kill it outright (SIGKILL) to see what a crash leaves.
 */
export class ServiceProcess {
  readonly opsUrl: string;
  /** Resolves when the process has ended. */
  readonly exited: Promise<ProcessExit>;
  private readonly options: ServiceProcessOptions;
  private readonly child: ChildProcess;
  /** Why it could not be spawned. */
  private failure: Error | undefined;

  private constructor(child: ChildProcess, options: ServiceProcessOptions) {
    this.child = child;
    this.options = options;
    this.opsUrl = `http://${LOOPBACK}:${String(options.opsPort)}`;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        resolve({ code, signal });
      });
      // A process that could not be spawned ends without an 'exit'.
      child.once('error', (error) => {
        if (child.pid !== undefined) return;
        this.failure = error;
        resolve({ code: null, signal: null });
      });
    });
  }

  /** Starts the service and waits until it is ready; a failure quotes the end of its log. */
  static async start(options: ServiceProcessOptions): Promise<ServiceProcess> {
    const log = await open(options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [...(options.nodeOptions ?? []), '--import', GUARD, options.bundle],
        {
          ...(options.cwd !== undefined && { cwd: options.cwd }),
          env: {
            ...process.env,
            NODE_ENV: 'production',
            ...options.env,
            UNDERSTUDY_OPS_HOST: LOOPBACK,
            UNDERSTUDY_OPS_PORT: String(options.opsPort),
          },
          stdio: ['ignore', log.fd, log.fd, 'ipc'],
        },
      );
    } finally {
      await log.close();
    }
    const service = new ServiceProcess(child, options);
    await service.ready();
    return service;
  }

  get pid(): number {
    const { pid } = this.child;
    if (pid === undefined) throw new Error(`${this.options.name} did not start`);
    return pid;
  }

  /**
   * CPU seconds (user and system) it has used so far, from /proc (Linux): what a benchmark
   * charges to the service itself on a machine it shares with its load.
   */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${String(this.pid)}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields after it do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  }

  get running(): boolean {
    return (
      this.failure === undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  private async ready(): Promise<void> {
    const { name, logFile, readyTimeoutMs = 120_000 } = this.options;
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline && this.running) {
      const status = await fetch(`${this.opsUrl}/readyz`).then(
        (response) => response.status,
        () => 0,
      );
      const serving = await Promise.all((this.options.servingPorts ?? []).map(isPortOpen));
      if (status === 200 && serving.every(Boolean)) return;
      await sleep(100);
    }
    const reason = this.running
      ? `was not ready in ${String(readyTimeoutMs / 1000)} s`
      : (this.failure?.message ?? 'exited');
    await this.stop();
    const log = await readFile(logFile, 'utf8').catch(() => '');
    throw new UnderstudyError(
      ErrorCode.Unavailable,
      `${name} ${reason}; log ${logFile}, last lines:\n${lastLines(log)}`,
    );
  }

  /** Stops it as an orchestrator does: SIGTERM, then SIGKILL if it has not drained in 30 s. */
  async stop(): Promise<ProcessExit> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const exit = await Promise.race([this.exited, sleep(30_000, undefined)]);
      if (exit !== undefined) return exit;
      this.child.kill('SIGKILL');
    }
    return this.exited;
  }

  /** Kills it outright (SIGKILL), as a crash or the OOM killer would, and waits until it is gone. */
  async kill(): Promise<ProcessExit> {
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }
}
