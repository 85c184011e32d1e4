import { readFile } from 'node:fs/promises';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { z } from 'zod';

const quantities = z.record(z.string(), z.string());

/**
 * The cluster-specific part of a training Job, from the JSON file mounted from a ConfigMap
 * (`UNDERSTUDY_JOB_TEMPLATE_FILE`). Everything has a default but the credentials Secret.
 */
const schema = z.strictObject({
  /** GPUs per Job (`nvidia.com/gpu` limit); 0 trains on CPU. A run's own request wins. */
  gpuCount: z.number().int().nonnegative().default(1),
  nodeSelector: z.record(z.string(), z.string()).default({}),
  tolerations: z
    .array(
      z.strictObject({
        key: z.string().optional(),
        operator: z.enum(['Exists', 'Equal']).optional(),
        value: z.string().optional(),
        effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
        tolerationSeconds: z.number().int().optional(),
      }),
    )
    .default([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]),
  /** Kueue LocalQueue (`kueue.x-k8s.io/queue-name`); absent submits straight to the scheduler. */
  queueName: z.string().min(1).optional(),
  resources: z
    .strictObject({ requests: quantities.default({}), limits: quantities.default({}) })
    .default({ requests: { cpu: '4', memory: '32Gi' }, limits: { memory: '32Gi' } }),
  backoffLimit: z.number().int().nonnegative().default(1),
  activeDeadlineSeconds: z.number().int().positive().default(86_400),
  ttlSecondsAfterFinished: z.number().int().nonnegative().default(86_400),
  /** Secret holding `UNDERSTUDY_S3_ACCESS_KEY` and `UNDERSTUDY_S3_SECRET_KEY`. */
  s3CredentialsSecret: z.string().min(1),
  serviceAccountName: z.string().min(1).optional(),
  priorityClassName: z.string().min(1).optional(),
  /** The image's non-root user. */
  runAsUser: z.number().int().positive().default(1000),
  /** Size limit of the Hugging Face cache emptyDir (downloaded base models). */
  cacheSizeLimit: z.string().default('50Gi'),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
});

export type JobTemplate = z.output<typeof schema>;

/** Validates a template object, naming every bad field. */
export function parseJobTemplate(input: unknown): JobTemplate {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new UnderstudyError(
    ErrorCode.InvalidArgument,
    `invalid Job template: ${parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ')}`,
  );
}

export async function loadJobTemplate(path: string): Promise<JobTemplate> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, `cannot read Job template ${path}`, {
      cause: error,
    });
  }
  try {
    return parseJobTemplate(JSON.parse(text));
  } catch (error) {
    if (error instanceof UnderstudyError) throw error;
    throw new UnderstudyError(ErrorCode.InvalidArgument, `Job template ${path} is not JSON`, {
      cause: error,
    });
  }
}
