import type { TrainerInvocation } from '../domain/trainer-protocol.js';
import type { RunEvent } from '../domain/run.js';

/** The executor's name for a submitted job: enough to watch or cancel it after a restart. */
export interface JobHandle {
  readonly name: string;
}

/** What a watched job reports: it started (again), progressed, or finished. */
export type ExecutorEvent = Extract<
  RunEvent,
  { type: 'started' | 'progress' | 'succeeded' | 'failed' }
>;

/** Runs the trainer somewhere: a Kubernetes Job or a local child process. */
export interface Executor {
  /** Starts the trainer for a run; submitting the same run again returns the same handle. */
  submit(invocation: TrainerInvocation): Promise<JobHandle>;
  /** The job's events until it finishes: the last one is `succeeded` or `failed`. */
  watch(handle: JobHandle, signal: AbortSignal): AsyncIterable<ExecutorEvent>;
  /** Stops the job; stopping a finished or unknown job does nothing. */
  cancel(handle: JobHandle): Promise<void>;
  /** Releases what the executor holds (child processes, connections) at shutdown. */
  close(): Promise<void>;
}
