import type { Run, TrainingResult } from '../domain/run.js';

/** The run id of `succeededRun`. */
export const runId = '3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90';

/** What the trainer reports of a Qwen2.5-0.5B adapter, for tests. */
export const trainingResult: TrainingResult = {
  files: [
    { path: 'adapter_config.json', sizeBytes: 912, sha256: 'a'.repeat(64) },
    { path: 'adapter_model.safetensors', sizeBytes: 35_237_104, sha256: 'b'.repeat(64) },
  ],
  footprint: {
    baseParameterCount: 494_032_768,
    adapterParameterCount: 8_798_208,
    servingMemoryBytes: 1_005_661_952,
    dtype: 'bfloat16',
  },
  license: 'apache-2.0',
  evaluation: {
    evaluatorVersion: 'greedy-teacher-match@1',
    exampleCount: 64,
    metrics: { exact_match: 0.72, token_f1: 0.91 },
  },
};

/** A run that trained `trainingResult`, its model version not registered yet. */
export function succeededRun(overrides: Partial<Run> = {}): Run {
  return {
    runId,
    requestId: 'dataset:d-1:0123456789abcdef',
    requestedBy: 'dataset-builder',
    fingerprint: 'f',
    tenantId: 'acme',
    taskId: 'task-7',
    datasetId: 'd-1',
    datasetUri: 's3://understudy/datasets/acme/d-1/manifest.json',
    baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
    hyperParameters: { lora_r: 16 },
    resources: { accelerator: '', acceleratorCount: 0, queue: '' },
    state: 'succeeded',
    attempt: 1,
    outputUri: `s3://understudy/training-runs/acme/${runId}/`,
    adapterUri: `s3://understudy/training-runs/acme/${runId}/adapter`,
    metrics: { train_loss: 1.2, eval_loss: 1.4 },
    result: trainingResult,
    jobName: `trainer-${runId}`,
    announced: true,
    createdAt: new Date('2026-11-02T10:00:00Z'),
    version: 7,
    ...overrides,
  };
}
