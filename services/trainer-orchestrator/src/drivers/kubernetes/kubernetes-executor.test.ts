import { ErrorCode } from '@understudy/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { invocation } from '../../testing/service.js';
import type { ExecutorEvent } from '../executor.js';
import { parseJobTemplate } from './job-template.js';
import { KubeClient } from './kube-client.js';
import { KubernetesExecutor } from './kubernetes-executor.js';
import {
  loadContract,
  startContractServer,
  type ContractServer,
} from './testing/contract-server.js';

// A recorded contract of the Kubernetes API (src/drivers/kubernetes/contract/*.json), replayed
// by a local server: it checks what the client sends, not how a live cluster behaves.
const token = 'eyJhbGciOiJSUzI1NiJ9.test-service-account-token';
let server: ContractServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function executorFor(contract: string, template: object = {}): Promise<KubernetesExecutor> {
  server = await startContractServer(await loadContract(contract), token);
  const client = new KubeClient({
    baseUrl: server.url,
    namespace: 'understudy-training',
    token: () => Promise.resolve(token),
  });
  return new KubernetesExecutor({
    client,
    template: parseJobTemplate({ s3CredentialsSecret: 'understudy-s3', ...template }),
    settings: {
      namespace: 'understudy-training',
      image: 'ghcr.io/understudy/trainer:0.1.0',
      s3: { endpoint: 'http://minio:9000', region: 'us-east-1' },
    },
  });
}

async function collect(events: AsyncIterable<ExecutorEvent>): Promise<ExecutorEvent[]> {
  const seen: ExecutorEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

const handle = { name: 'trainer-3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90' };

describe('KubernetesExecutor against the recorded API contract', () => {
  it('creates the Job, finds it again after a crash, and cancels it idempotently', async () => {
    const executor = await executorFor('submit-job', { queueName: 'training' });
    expect(await executor.submit(invocation())).toEqual(handle);
    expect(await executor.submit(invocation())).toEqual(handle);
    await executor.cancel(handle);
    await executor.cancel(handle);
    await expect(
      new KubeClient({
        baseUrl: server?.url ?? '',
        namespace: 'understudy-training',
        token: () => Promise.resolve(token),
      }).getJob(handle.name),
    ).rejects.toMatchObject({ code: ErrorCode.PermissionDenied, details: { reason: 'Forbidden' } });
    expect(server?.failures).toEqual([]);
    expect(server?.remaining()).toBe(0);
  });

  it('watches the Job, follows the pod log and relists after 410 Gone', async () => {
    const executor = await executorFor('run-job');
    const events = await collect(executor.watch(handle, new AbortController().signal));
    expect(server?.failures).toEqual([]);
    expect(server?.remaining()).toBe(0);
    expect(events.map((event) => event.type)).toEqual([
      'started',
      'progress',
      'progress',
      'succeeded',
    ]);
    expect(events[2]).toMatchObject({
      progress: { step: 2, totalSteps: 2, loss: 1.87, epoch: 1, learningRate: 0.0002 },
    });
    expect(events[3]).toEqual({
      type: 'succeeded',
      adapterUri:
        's3://understudy/training-runs/acme/3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90/adapter/',
      metrics: { train_loss: 1.87, eval_loss: 1.95, train_runtime_s: 754.2 },
      result: {
        files: [
          {
            path: 'adapter_config.json',
            sizeBytes: 912,
            sha256: 'f9ad40812fae8d031539e7961a835a94a6d8e32ad1e71995327ff62ff567e789',
          },
          {
            path: 'adapter_model.safetensors',
            sizeBytes: 35_237_104,
            sha256: '6bdb0cb708ffd6eca0c7b376fe19b8941602ccd0129b3479007754b7cb4cc864',
          },
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
      },
    });
  });

  it('explains a failed Job with the trainer’s last report from the newest pod', async () => {
    const executor = await executorFor('failed-job');
    const events = await collect(executor.watch(handle, new AbortController().signal));
    expect(server?.failures).toEqual([]);
    expect(events).toEqual([
      {
        type: 'failed',
        failure: {
          reason:
            'CUDA out of memory at batch_size 16 (BackoffLimitExceeded: Job has reached the specified backoff limit)',
          retryable: false,
        },
      },
    ]);
  });

  it('reports an unreachable API server as retryable', async () => {
    const client = new KubeClient({
      baseUrl: 'http://127.0.0.1:1',
      namespace: 'understudy-training',
      token: () => Promise.resolve(token),
    });
    await expect(client.getJob('x')).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
      retryable: true,
    });
  });
});
