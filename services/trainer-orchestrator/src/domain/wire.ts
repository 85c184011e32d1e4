import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AdapterArtifactSchema,
  AdapterFormat,
  ObjectRefSchema,
  TrainingRunSchema,
  TrainingRunState,
  type AdapterArtifact,
  type ObjectRef,
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

/** `s3://bucket/key` → bucket and key; other schemes keep the URI as the key. */
function location(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  return { bucket: match?.[1] ?? '', key: match?.[2] ?? uri };
}

/**
 * Where the trainer writes its log: `train.log` under the run's output, uploaded when it exits,
 * whether it succeeded or failed (a killed trainer leaves none; its pod log remains).
 */
export function logsRef(run: Pick<Run, 'outputUri'>): ObjectRef {
  return create(ObjectRefSchema, {
    ...location(`${run.outputUri.replace(/\/?$/, '/')}train.log`),
    mediaType: 'text/plain',
  });
}

/** The succeeded run's adapter in PEFT layout: its folder, and its files as the trainer hashed them. */
export function adapterArtifact(run: Run): AdapterArtifact | undefined {
  if (run.adapterUri === undefined) return undefined;
  const { bucket, key: prefix } = location(run.adapterUri);
  const folder = prefix.replace(/\/?$/, '/');
  const files = run.result?.files ?? [];
  return create(AdapterArtifactSchema, {
    bucket,
    prefix,
    files: files.map((file) => ({
      bucket,
      key: `${folder}${file.path}`,
      sha256: file.sha256,
      sizeBytes: BigInt(file.sizeBytes),
    })),
    baseModel: run.baseModel,
    loraRank: numberOr(run.hyperParameters['lora_r'], 0),
    format: AdapterFormat.PEFT_LORA_SAFETENSORS,
    sizeBytes: files.reduce((sum, file) => sum + BigInt(file.sizeBytes), 0n),
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
    requestedBy: run.requestedBy,
    jobName: run.jobName ?? '',
    logs: logsRef(run),
    attempt: run.attempt,
    createdAt: timestampFromDate(run.createdAt),
    ...(run.startedAt !== undefined && { startedAt: timestampFromDate(run.startedAt) }),
    ...(run.finishedAt !== undefined && { finishedAt: timestampFromDate(run.finishedAt) }),
    etag: String(run.version),
  });
}
