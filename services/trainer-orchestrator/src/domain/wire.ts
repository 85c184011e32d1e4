import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AdapterArtifactSchema,
  TrainingRunSchema,
  TrainingRunState,
  type AdapterArtifact,
  type TrainingRun,
} from '@understudy/contracts';
import { trainingConfig } from './hyper-parameters.js';
import type { Run, RunState } from './run.js';

const states: Record<RunState, TrainingRunState> = {
  requested: TrainingRunState.QUEUED,
  submitted: TrainingRunState.QUEUED,
  running: TrainingRunState.RUNNING,
  succeeded: TrainingRunState.SUCCEEDED,
  failed: TrainingRunState.FAILED,
  cancelled: TrainingRunState.CANCELLED,
};

export const wireState = (state: RunState): TrainingRunState => states[state];

/** The run states a wire state stands for (QUEUED covers requested and submitted). */
export function runStates(state: TrainingRunState): RunState[] {
  return (Object.keys(states) as RunState[]).filter((s) => states[s] === state);
}

/** `s3://bucket/prefix/` → bucket and prefix; other schemes keep the URI as the prefix. */
export function adapterArtifact(run: Run): AdapterArtifact | undefined {
  if (run.adapterUri === undefined) return undefined;
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(run.adapterUri);
  return create(AdapterArtifactSchema, {
    bucket: match?.[1] ?? '',
    prefix: match?.[2] ?? run.adapterUri,
    baseModel: run.baseModel,
    loraRank: numberOr(run.hyperParameters['lora_r'], 0),
  });
}

const numberOr = (value: unknown, fallback: number) =>
  typeof value === 'number' ? value : fallback;

export function toTrainingRun(run: Run): TrainingRun {
  const adapter = adapterArtifact(run);
  return create(TrainingRunSchema, {
    runId: run.runId,
    tenantId: run.tenantId,
    taskId: run.taskId,
    datasetId: run.datasetId,
    baseModel: run.baseModel,
    config: trainingConfig(run.hyperParameters),
    resources: run.resources,
    state: wireState(run.state),
    ...(run.progress !== undefined && {
      progress: {
        step: run.progress.step,
        totalSteps: run.progress.totalSteps,
        epoch: run.progress.epoch,
        loss: run.progress.loss,
        ...(run.progress.evalLoss !== undefined && { evalLoss: run.progress.evalLoss }),
        learningRate: run.progress.learningRate ?? 0,
        reportedAt: timestampFromDate(run.progress.reportedAt),
      },
    }),
    ...(adapter !== undefined && { adapter }),
    metrics: { ...run.metrics },
    ...(run.failure !== undefined && { failure: run.failure }),
    requestId: run.requestId,
    attempt: run.attempt,
    createdAt: timestampFromDate(run.createdAt),
    ...(run.startedAt !== undefined && { startedAt: timestampFromDate(run.startedAt) }),
    ...(run.finishedAt !== undefined && { finishedAt: timestampFromDate(run.finishedAt) }),
    etag: String(run.version),
  });
}
