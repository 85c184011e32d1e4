import type { IJob } from 'kubernetes-models/batch/v1';
import type { IEnvVar } from 'kubernetes-models/v1';
import { trainerArguments, type TrainerInvocation } from '../../domain/trainer-protocol.js';
import type { JobTemplate } from './job-template.js';

export const runIdLabel = 'understudy.dev/run-id';
export const taskIdLabel = 'understudy.dev/task-id';
export const tenantIdLabel = 'understudy.dev/tenant-id';
export const queueNameLabel = 'kueue.x-k8s.io/queue-name';
const gpuResource = 'nvidia.com/gpu';
const gpuProductLabel = 'nvidia.com/gpu.product';

/** What a Job needs besides the run and the template. */
export interface JobSettings {
  readonly namespace: string;
  readonly image: string;
  /** Non-secret S3 settings; the credentials come from the template's Secret. */
  readonly s3: { readonly endpoint: string; readonly region: string };
}

/** Job names are DNS labels: the pods' `job-name` label must fit in 63 characters. */
export const jobName = (runId: string): string => `trainer-${runId}`.slice(0, 63).toLowerCase();

/** A label value (63 characters of `[A-Za-z0-9._-]`, alphanumeric ends); ids also go in annotations. */
export function labelValue(value: string): string {
  return value
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

const secretEnv = (name: string, secret: string): IEnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key: name } },
});

/**
 * The `batch/v1` Job that trains one run: the trainer CLI as the container's arguments, S3
 * credentials by Secret reference only, GPUs as limits, placement and Kueue admission from the
 * template, a non-root read-only container writing only to emptyDirs.
 */
export function buildJob(
  invocation: TrainerInvocation,
  template: JobTemplate,
  settings: JobSettings,
): IJob {
  const { resources } = invocation;
  const gpus = resources.acceleratorCount > 0 ? resources.acceleratorCount : template.gpuCount;
  const queue = resources.queue !== '' ? resources.queue : template.queueName;
  const nodeSelector = {
    ...template.nodeSelector,
    ...(resources.accelerator !== '' && { [gpuProductLabel]: resources.accelerator }),
  };
  const labels = {
    'app.kubernetes.io/name': 'understudy-trainer',
    'app.kubernetes.io/component': 'training',
    'app.kubernetes.io/managed-by': 'understudy-trainer-orchestrator',
    [runIdLabel]: labelValue(invocation.runId),
    [taskIdLabel]: labelValue(invocation.taskId),
    [tenantIdLabel]: labelValue(invocation.tenantId),
  };
  const annotations = {
    [runIdLabel]: invocation.runId,
    [taskIdLabel]: invocation.taskId,
    [tenantIdLabel]: invocation.tenantId,
  };
  const withGpus = (quantities: Record<string, string>) =>
    gpus > 0 ? { ...quantities, [gpuResource]: String(gpus) } : quantities;
  const requests = template.resources.requests;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(invocation.runId),
      namespace: settings.namespace,
      labels: { ...labels, ...(queue !== undefined && { [queueNameLabel]: queue }) },
      annotations,
    },
    spec: {
      backoffLimit: template.backoffLimit,
      activeDeadlineSeconds: template.activeDeadlineSeconds,
      ttlSecondsAfterFinished: template.ttlSecondsAfterFinished,
      // Kueue admits a queued Job by unsuspending it.
      ...(queue !== undefined && { suspend: true }),
      template: {
        metadata: { labels, annotations },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          ...(template.serviceAccountName !== undefined && {
            serviceAccountName: template.serviceAccountName,
          }),
          ...(template.priorityClassName !== undefined && {
            priorityClassName: template.priorityClassName,
          }),
          ...(Object.keys(nodeSelector).length > 0 && { nodeSelector }),
          ...(template.tolerations.length > 0 && {
            tolerations: template.tolerations.map((toleration) => withoutUndefined(toleration)),
          }),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: template.runAsUser,
            runAsGroup: template.runAsUser,
            fsGroup: template.runAsUser,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'trainer',
              image: settings.image,
              imagePullPolicy: template.imagePullPolicy,
              command: ['python', '-m', 'understudy_trainer'],
              args: trainerArguments(invocation),
              env: [
                { name: 'UNDERSTUDY_S3_ENDPOINT', value: settings.s3.endpoint },
                { name: 'UNDERSTUDY_S3_REGION', value: settings.s3.region },
                secretEnv('UNDERSTUDY_S3_ACCESS_KEY', template.s3CredentialsSecret),
                secretEnv('UNDERSTUDY_S3_SECRET_KEY', template.s3CredentialsSecret),
                { name: 'HF_HOME', value: '/var/cache/huggingface' },
                { name: 'HOME', value: '/tmp' },
                { name: 'TMPDIR', value: '/tmp' },
              ],
              resources: {
                // Extended resources: requests, when given, must equal limits.
                ...(Object.keys(requests).length > 0 && { requests: withGpus(requests) }),
                limits: withGpus(template.resources.limits),
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'hf-cache', mountPath: '/var/cache/huggingface' },
                { name: 'dshm', mountPath: '/dev/shm' },
              ],
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: {} },
            { name: 'hf-cache', emptyDir: { sizeLimit: template.cacheSizeLimit } },
            // PyTorch data loaders share tensors through /dev/shm, 64 MiB by default.
            { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '8Gi' } },
          ],
        },
      },
    },
  };
}

/** Drops absent optional fields, which Kubernetes types may not hold as `undefined`. */
function withoutUndefined<T extends object>(
  value: T,
): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter((entry) => entry[1] !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}
