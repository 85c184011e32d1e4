import type { TrainerInvocation } from '../domain/trainer-protocol.js';

/** A run as executors receive it, for tests. */
export function invocation(overrides: Partial<TrainerInvocation> = {}): TrainerInvocation {
  return {
    runId: '3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90',
    tenantId: 'acme',
    taskId: 'task-7',
    datasetId: 'd-1',
    datasetUri: 's3://understudy/datasets/acme/d-1/manifest.json',
    outputUri: 's3://understudy/training-runs/acme/3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90/',
    baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
    hyperParameters: { lora_r: 16, epochs: 2 },
    resources: { accelerator: '', acceleratorCount: 0, queue: '' },
    ...overrides,
  };
}
