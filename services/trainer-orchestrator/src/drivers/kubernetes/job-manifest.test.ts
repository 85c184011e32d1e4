import { Job } from 'kubernetes-models/batch/v1';
import { describe, expect, it } from 'vitest';
import { invocation } from '../../testing/service.js';
import { buildJob, labelValue } from './job-manifest.js';
import { parseJobTemplate } from './job-template.js';

const settings = {
  namespace: 'understudy-training',
  image: 'ghcr.io/understudy/trainer:0.1.0',
  s3: { endpoint: 'http://minio:9000', region: 'us-east-1' },
};

describe('buildJob', () => {
  it('builds a schema-valid GPU Job from the template defaults', () => {
    const job = buildJob(
      invocation(),
      parseJobTemplate({ s3CredentialsSecret: 'understudy-s3' }),
      settings,
    );
    expect(() => {
      new Job(job).validate();
    }).not.toThrow();
    const pod = job.spec?.template.spec;
    const container = pod?.containers[0];
    expect(job.metadata?.name).toBe('trainer-3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90');
    expect(container?.args).toEqual([
      'train',
      '--dataset',
      's3://understudy/datasets/acme/d-1/manifest.json',
      '--output',
      's3://understudy/training-runs/acme/3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90/',
      '--base-model',
      'Qwen/Qwen2.5-0.5B-Instruct',
      '--run-id',
      '3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90',
      '--config',
      '{"lora_r":16,"epochs":2}',
    ]);
    expect(container?.resources?.limits).toEqual({ memory: '32Gi', 'nvidia.com/gpu': '1' });
    expect(container?.resources?.requests).toEqual({
      cpu: '4',
      memory: '32Gi',
      'nvidia.com/gpu': '1',
    });
    expect(pod?.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(pod?.securityContext?.runAsNonRoot).toBe(true);
    expect(container?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(container?.volumeMounts?.map((mount) => mount.mountPath)).toEqual([
      '/tmp',
      '/var/cache/huggingface',
      '/dev/shm',
    ]);
    expect(job.spec).toMatchObject({
      backoffLimit: 1,
      activeDeadlineSeconds: 86_400,
      ttlSecondsAfterFinished: 86_400,
    });
    expect(job.spec?.suspend).toBeUndefined();
    expect(job.metadata?.labels).toMatchObject({
      'understudy.dev/run-id': '3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90',
      'understudy.dev/task-id': 'task-7',
    });
  });

  it('takes credentials from the Secret by reference only', () => {
    const job = buildJob(
      invocation(),
      parseJobTemplate({ s3CredentialsSecret: 'creds' }),
      settings,
    );
    const env = job.spec?.template.spec?.containers[0]?.env ?? [];
    const secrets = env.filter((variable) => variable.valueFrom?.secretKeyRef !== undefined);
    expect(secrets.map((variable) => variable.name)).toEqual([
      'UNDERSTUDY_S3_ACCESS_KEY',
      'UNDERSTUDY_S3_SECRET_KEY',
    ]);
    expect(secrets.every((variable) => variable.value === undefined)).toBe(true);
    expect(secrets[0]?.valueFrom?.secretKeyRef).toEqual({
      name: 'creds',
      key: 'UNDERSTUDY_S3_ACCESS_KEY',
    });
  });

  it('applies placement, Kueue and the run’s own resource request', () => {
    const template = parseJobTemplate({
      s3CredentialsSecret: 'creds',
      gpuCount: 1,
      nodeSelector: { 'node.kubernetes.io/instance-type': 'p5.48xlarge' },
      tolerations: [
        { key: 'dedicated', operator: 'Equal', value: 'training', effect: 'NoSchedule' },
      ],
      queueName: 'training',
      resources: { limits: { cpu: '8', memory: '64Gi' } },
      backoffLimit: 3,
      activeDeadlineSeconds: 7200,
      ttlSecondsAfterFinished: 600,
      serviceAccountName: 'trainer',
    });
    const run = invocation({
      taskId: 'Task With Spaces/and:colons',
      resources: { accelerator: 'NVIDIA-H100-80GB-HBM3', acceleratorCount: 4, queue: '' },
    });
    const job = buildJob(run, template, settings);
    expect(() => {
      new Job(job).validate();
    }).not.toThrow();
    const pod = job.spec?.template.spec;
    expect(pod?.nodeSelector).toEqual({
      'node.kubernetes.io/instance-type': 'p5.48xlarge',
      'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
    });
    expect(pod?.containers[0]?.resources).toEqual({
      limits: { cpu: '8', memory: '64Gi', 'nvidia.com/gpu': '4' },
    });
    expect(job.metadata?.labels?.['kueue.x-k8s.io/queue-name']).toBe('training');
    expect(job.spec?.suspend).toBe(true);
    expect(job.metadata?.labels?.['understudy.dev/task-id']).toBe('Task-With-Spaces-and-colons');
    expect(job.metadata?.annotations?.['understudy.dev/task-id']).toBe(
      'Task With Spaces/and:colons',
    );
    expect(job.spec).toMatchObject({ backoffLimit: 3, activeDeadlineSeconds: 7200 });
  });

  it('builds a CPU Job when the template asks for no GPU', () => {
    const template = parseJobTemplate({
      s3CredentialsSecret: 'creds',
      gpuCount: 0,
      tolerations: [],
    });
    const job = buildJob(invocation(), template, settings);
    expect(() => {
      new Job(job).validate();
    }).not.toThrow();
    expect(job.spec?.template.spec?.containers[0]?.resources?.limits).toEqual({ memory: '32Gi' });
    expect(job.spec?.template.spec?.tolerations).toBeUndefined();
  });

  it('rejects a template naming every bad field', () => {
    expect(() => parseJobTemplate({ gpuCount: -1, extra: true })).toThrow(
      /s3CredentialsSecret.*|gpuCount/,
    );
    expect(() => parseJobTemplate({ gpuCount: -1 })).toThrow(/gpuCount.*s3CredentialsSecret/s);
  });

  it('makes label values valid', () => {
    expect(labelValue('-a'.repeat(40))).toMatch(/^a[-a]*a$/);
    expect(labelValue('-a'.repeat(40)).length).toBeLessThanOrEqual(63);
  });
});
