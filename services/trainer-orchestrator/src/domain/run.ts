import { ErrorCode, UnderstudyError } from '@understudy/errors';

/** requested → submitted → running → succeeded | failed | cancelled. */
export type RunState = 'requested' | 'submitted' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const terminalStates: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'cancelled']);

export const isTerminal = (state: RunState): boolean => terminalStates.has(state);

/** One progress report of the trainer, as its JSON lines carry it. */
export interface Progress {
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number;
  readonly epoch: number;
  readonly evalLoss?: number;
  readonly learningRate?: number;
  readonly reportedAt: Date;
}

export interface Failure {
  readonly reason: string;
  readonly retryable: boolean;
}

/** One file of a trained adapter, as the trainer describes it. */
export interface AdapterFile {
  /** Below the adapter's folder, e.g. `adapter_model.safetensors`. */
  readonly path: string;
  readonly sizeBytes: number;
  /** Lowercase hex SHA-256 of the file's bytes. */
  readonly sha256: string;
}

/** What serving the adapter on its base costs, as the trainer measured it. */
export interface Footprint {
  readonly baseParameterCount: number;
  readonly adapterParameterCount: number;
  /** The weights of base and adapter at `dtype`, without the KV cache. */
  readonly servingMemoryBytes: number;
  readonly dtype: string;
}

/** The trainer's evaluation of the adapter on the dataset's held-out split, vs the teacher. */
export interface HeldOutEvaluation {
  /** Name and version of the trainer's evaluation method, e.g. `greedy-teacher-match@1`. */
  readonly evaluatorVersion: string;
  readonly exampleCount: number;
  /** Agreement with the teacher's answers, each in [0, 1]. */
  readonly metrics: Readonly<Record<string, number>>;
}

/**
 * What the trainer reports of a trained adapter beyond its metrics, for the registry; an older
 * trainer reports none of it.
 */
export interface TrainingResult {
  readonly files: readonly AdapterFile[];
  readonly footprint?: Footprint;
  /** The base model's licence as its model card names it (e.g. `apache-2.0`). */
  readonly license?: string;
  readonly evaluation?: HeldOutEvaluation;
}

/** What to train: fixed when the run is created. */
export interface RunSpec {
  readonly tenantId: string;
  readonly taskId: string;
  readonly datasetId: string;
  /** URI of the dataset's manifest (`s3://bucket/key`), the trainer's `--dataset`. */
  readonly datasetUri: string;
  readonly baseModel: string;
  /** The trainer's hyper-parameters (`--config`), snake_case as its CLI reads them. */
  readonly hyperParameters: Readonly<Record<string, unknown>>;
  readonly resources: {
    readonly accelerator: string;
    readonly acceleratorCount: number;
    readonly queue: string;
  };
}

export interface Run extends RunSpec {
  readonly runId: string;
  /** Idempotency key: SubmitTrainingRun's request_id, or derived from a dataset event. */
  readonly requestId: string;
  /** Who asked for the run (see Orchestrator.submit); not part of the request's fingerprint. */
  readonly requestedBy: string;
  /** Hash of the request, so that a reused request_id with another request is refused. */
  readonly fingerprint: string;
  readonly state: RunState;
  readonly attempt: number;
  /** Where the trainer writes (`--output`). */
  readonly outputUri: string;
  /** The executor's name for the job (Kubernetes Job, local process), once submitted. */
  readonly jobName?: string;
  readonly progress?: Progress;
  readonly adapterUri?: string;
  readonly metrics: Readonly<Record<string, number>>;
  /** Set when succeeded. */
  readonly result?: TrainingResult;
  readonly failure?: Failure;
  readonly cancelReason?: string;
  /** Set once the registry holds the run's model version. */
  readonly modelVersionId?: string;
  /** Whether the event of the terminal state was published (resumed at boot if not). */
  readonly announced: boolean;
  readonly createdAt: Date;
  readonly startedAt?: Date;
  readonly finishedAt?: Date;
  /** Optimistic-concurrency version, bumped by every stored change. */
  readonly version: number;
}

/** What happens to a run; transition() decides whether it may. */
export type RunEvent =
  | { readonly type: 'submitted'; readonly jobName: string }
  | { readonly type: 'started'; readonly attempt: number }
  | { readonly type: 'progress'; readonly progress: Progress }
  | {
      readonly type: 'succeeded';
      readonly adapterUri: string;
      readonly metrics: Readonly<Record<string, number>>;
      readonly result: TrainingResult;
    }
  | { readonly type: 'failed'; readonly failure: Failure }
  | { readonly type: 'cancelled'; readonly reason: string };

const allowed: Record<RunEvent['type'], readonly RunState[]> = {
  submitted: ['requested'],
  started: ['submitted', 'running'],
  progress: ['submitted', 'running'],
  succeeded: ['submitted', 'running'],
  failed: ['requested', 'submitted', 'running'],
  cancelled: ['requested', 'submitted', 'running'],
};

/** The run after `event`, or FAILED_PRECONDITION when the state machine forbids it. */
export function transition(run: Run, event: RunEvent, now: Date): Run {
  if (!allowed[event.type].includes(run.state)) {
    throw new UnderstudyError(
      ErrorCode.FailedPrecondition,
      `run ${run.runId} is ${run.state}: cannot apply ${event.type}`,
      { details: { runId: run.runId, state: run.state, event: event.type } },
    );
  }
  switch (event.type) {
    case 'submitted':
      return { ...run, state: 'submitted', jobName: event.jobName };
    case 'started':
      return { ...run, state: 'running', attempt: event.attempt, startedAt: run.startedAt ?? now };
    case 'progress':
      return {
        ...run,
        state: 'running',
        attempt: Math.max(run.attempt, 1),
        startedAt: run.startedAt ?? now,
        progress: event.progress,
      };
    case 'succeeded':
      return {
        ...run,
        state: 'succeeded',
        adapterUri: event.adapterUri,
        metrics: event.metrics,
        result: event.result,
        finishedAt: now,
        announced: false,
      };
    case 'failed':
      return { ...run, state: 'failed', failure: event.failure, finishedAt: now, announced: false };
    case 'cancelled':
      return {
        ...run,
        state: 'cancelled',
        cancelReason: event.reason,
        finishedAt: now,
        announced: false,
      };
  }
}
