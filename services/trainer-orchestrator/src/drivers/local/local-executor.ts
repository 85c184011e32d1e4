import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, type Logger } from '@understudy/telemetry';
import {
  lines,
  parseTrainerLine,
  trainerArguments,
  type TrainerInvocation,
  type TrainerReport,
} from '../../domain/trainer-protocol.js';
import { Channel } from '../channel.js';
import type { Executor, ExecutorEvent, JobHandle } from '../executor.js';

export interface LocalExecutorOptions {
  /** The trainer venv's python (`UNDERSTUDY_TRAINER_PYTHON`); runs `-m understudy_trainer`. */
  readonly python: string;
  /** The child's whole environment (S3 settings, PATH…): nothing is inherited implicitly. */
  readonly env: Readonly<Record<string, string>>;
  /** How long a cancelled trainer gets between SIGTERM and SIGKILL. */
  readonly killGraceMs?: number;
  readonly logger?: Logger;
}

interface LocalJob {
  readonly child: ChildProcess;
  readonly events: Channel<ExecutorEvent>;
  /** Resolves with the exit code and signal once the process and its pipes closed. */
  readonly exited: Promise<readonly [number | null, NodeJS.Signals | null]>;
}

/**
 * Runs the trainer's entrypoint as a child process in its own process group, for the embedded
 * single-machine mode and development. Jobs live as long as this process: after a restart a
 * handle is unknown and watching it reports a retryable failure.
 */
export class LocalExecutor implements Executor {
  private readonly jobs = new Map<string, LocalJob>();
  private readonly logger: Logger;

  constructor(private readonly options: LocalExecutorOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  submit(invocation: TrainerInvocation): Promise<JobHandle> {
    const name = `trainer-${invocation.runId}`;
    if (this.jobs.has(name)) return Promise.resolve({ name });
    const child = spawn(
      this.options.python,
      ['-m', 'understudy_trainer', ...trainerArguments(invocation)],
      // Its own process group, so that cancel() also stops the trainer's worker processes.
      { detached: true, env: { ...this.options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const events = new Channel<ExecutorEvent>();
    const exited = new Promise<readonly [number | null, NodeJS.Signals | null]>((resolve) => {
      child.once('close', (code, signal) => {
        resolve([code, signal]);
      });
    });
    const job = { child, events, exited };
    this.jobs.set(name, job);
    void this.follow(name, job);
    return Promise.resolve({ name });
  }

  async *watch(handle: JobHandle, signal: AbortSignal): AsyncGenerator<ExecutorEvent> {
    const job = this.jobs.get(handle.name);
    if (job === undefined) {
      yield {
        type: 'failed',
        failure: { reason: 'the local trainer process was lost in a restart', retryable: true },
      };
      return;
    }
    yield* job.events.read(signal);
  }

  async cancel(handle: JobHandle): Promise<void> {
    const job = this.jobs.get(handle.name);
    if (job === undefined || job.child.exitCode !== null || job.child.signalCode !== null) return;
    this.signal(job.child, 'SIGTERM');
    const killed = await Promise.race([
      job.exited.then(() => true),
      sleep(this.options.killGraceMs ?? 10_000).then(() => false),
    ]);
    if (!killed) this.signal(job.child, 'SIGKILL');
    await job.exited;
  }

  async close(): Promise<void> {
    await Promise.all([...this.jobs.keys()].map((name) => this.cancel({ name })));
  }

  private async follow(name: string, { child, events, exited }: LocalJob): Promise<void> {
    let report: TrainerReport | undefined;
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
    });
    child.once('spawn', () => {
      events.push({ type: 'started', attempt: 1 });
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.logger.debug({ job: name, trainer: chunk.toString().trimEnd() }, 'trainer stderr');
    });
    if (child.stdout !== null) {
      for await (const text of lines(child.stdout)) {
        const parsed = parseTrainerLine(text, new Date());
        if (parsed === undefined) continue;
        if (parsed.event === 'progress')
          events.push({ type: 'progress', progress: parsed.progress });
        else report = parsed;
      }
    }
    const [code, signal] = await exited;
    events.push(outcome(code, signal, report, spawnError));
    events.end();
  }

  private signal(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch (error) {
      // ESRCH: the group is already gone.
      this.logger.debug({ err: error, pid: child.pid }, 'signal not delivered');
    }
  }
}

/** The exit code decides; the trainer's own last report explains. */
function outcome(
  code: number | null,
  signal: string | null,
  report: TrainerReport | undefined,
  spawnError: Error | undefined,
): ExecutorEvent {
  if (spawnError !== undefined) {
    return {
      type: 'failed',
      failure: { reason: `cannot start the trainer: ${spawnError.message}`, retryable: false },
    };
  }
  if (code === 0 && report?.event === 'succeeded') {
    const { adapterUri, metrics, result } = report;
    return { type: 'succeeded', adapterUri, metrics, result };
  }
  if (report?.event === 'failed') return { type: 'failed', failure: report.failure };
  const how = signal === null ? `exited with code ${String(code)}` : `was killed by ${signal}`;
  return {
    type: 'failed',
    // A killed trainer (OOM killer, preemption) may well succeed when run again.
    failure: { reason: `the trainer ${how} without reporting success`, retryable: signal !== null },
  };
}
