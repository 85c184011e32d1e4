import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { ObjectStore } from '@understudy/storage';
import type { Logger } from '@understudy/telemetry';
import type { Executor } from './drivers/executor.js';
import { loadJobTemplate } from './drivers/kubernetes/job-template.js';
import { KubeClient } from './drivers/kubernetes/kube-client.js';
import { KubernetesExecutor } from './drivers/kubernetes/kubernetes-executor.js';
import { LocalExecutor } from './drivers/local/local-executor.js';
import { StagingExecutor } from './drivers/local/staging-executor.js';
import type { TrainerOrchestratorConfig } from './service.js';

const noEndpoint = () =>
  new UnderstudyError(
    ErrorCode.InvalidArgument,
    'invalid configuration:\n  UNDERSTUDY_S3_ENDPOINT (missing): trainers need the object store',
    { details: { variables: ['UNDERSTUDY_S3_ENDPOINT'] } },
  );

/**
 * The executor `UNDERSTUDY_EXECUTOR` names, built from the config. With `sharedStore` (a host
 * process's store that trainers cannot reach) local runs are staged through it.
 */
export async function createExecutor(
  config: TrainerOrchestratorConfig,
  logger: Logger,
  sharedStore?: ObjectStore,
): Promise<Executor> {
  const { s3 } = config;
  if (config.executor === 'local') {
    if (sharedStore !== undefined) {
      return new StagingExecutor(localExecutor(config, logger), {
        store: sharedStore,
        bucket: s3.bucket,
        workDir: config.local.workDir,
        logger,
      });
    }
    if (s3.endpoint === undefined) throw noEndpoint();
    return localExecutor(config, logger, s3.endpoint);
  }
  if (s3.endpoint === undefined) throw noEndpoint();
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

/** The trainer as a child process; its S3 settings only when it reaches the store itself. */
function localExecutor(
  config: TrainerOrchestratorConfig,
  logger: Logger,
  endpoint?: string,
): LocalExecutor {
  const { s3 } = config;
  return new LocalExecutor({
    python: config.local.python,
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: tmpdir(),
      PYTHONUNBUFFERED: '1',
      ...(config.local.pythonPath !== undefined && { PYTHONPATH: config.local.pythonPath }),
      ...(endpoint !== undefined && {
        UNDERSTUDY_S3_ENDPOINT: endpoint,
        UNDERSTUDY_S3_REGION: s3.region,
        UNDERSTUDY_S3_BUCKET: s3.bucket,
        ...(s3.accessKey !== undefined && { UNDERSTUDY_S3_ACCESS_KEY: s3.accessKey }),
        ...(s3.secretKey !== undefined && { UNDERSTUDY_S3_SECRET_KEY: s3.secretKey }),
      }),
    },
    logger,
  });
}
