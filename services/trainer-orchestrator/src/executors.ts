import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { Logger } from '@understudy/telemetry';
import type { Executor } from './drivers/executor.js';
import { loadJobTemplate } from './drivers/kubernetes/job-template.js';
import { KubeClient } from './drivers/kubernetes/kube-client.js';
import { KubernetesExecutor } from './drivers/kubernetes/kubernetes-executor.js';
import { LocalExecutor } from './drivers/local/local-executor.js';
import type { TrainerOrchestratorConfig } from './service.js';

/** The executor `UNDERSTUDY_EXECUTOR` names, built from the config. */
export async function createExecutor(
  config: TrainerOrchestratorConfig,
  logger: Logger,
): Promise<Executor> {
  const { s3 } = config;
  if (config.executor === 'local') {
    return new LocalExecutor({
      python: config.local.python,
      env: {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        HOME: tmpdir(),
        PYTHONUNBUFFERED: '1',
        ...(config.local.pythonPath !== undefined && { PYTHONPATH: config.local.pythonPath }),
        UNDERSTUDY_S3_ENDPOINT: s3.endpoint,
        UNDERSTUDY_S3_REGION: s3.region,
        UNDERSTUDY_S3_BUCKET: s3.bucket,
        ...(s3.accessKey !== undefined && { UNDERSTUDY_S3_ACCESS_KEY: s3.accessKey }),
        ...(s3.secretKey !== undefined && { UNDERSTUDY_S3_SECRET_KEY: s3.secretKey }),
      },
      logger,
    });
  }
  const k8s = config.kubernetes;
  if (k8s.image === undefined || k8s.jobTemplateFile === undefined) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'UNDERSTUDY_EXECUTOR=kubernetes needs UNDERSTUDY_TRAINER_IMAGE and UNDERSTUDY_JOB_TEMPLATE_FILE',
    );
  }
  const baseUrl =
    k8s.apiUrl ??
    (k8s.serviceHost === undefined
      ? undefined
      : `https://${k8s.serviceHost.includes(':') ? `[${k8s.serviceHost}]` : k8s.serviceHost}:${String(k8s.servicePort)}`);
  if (baseUrl === undefined) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'no Kubernetes API: set UNDERSTUDY_KUBERNETES_API_URL or run in a cluster (KUBERNETES_SERVICE_HOST)',
    );
  }
  const ca = await readFile(join(k8s.serviceAccountDir, 'ca.crt')).catch(() => undefined);
  const client = new KubeClient({
    baseUrl,
    namespace: k8s.namespace,
    ...(ca !== undefined && { ca }),
    // Projected service-account tokens rotate: read the file for every request.
    token: async () => (await readFile(join(k8s.serviceAccountDir, 'token'), 'utf8')).trim(),
  });
  return new KubernetesExecutor({
    client,
    template: await loadJobTemplate(k8s.jobTemplateFile),
    settings: {
      namespace: k8s.namespace,
      image: k8s.image,
      s3: { endpoint: s3.endpoint, region: s3.region },
    },
    logger,
  });
}
