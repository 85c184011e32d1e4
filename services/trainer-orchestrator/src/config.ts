import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, setting, z } from '@understudy/config';
import {
  databaseSettings,
  grpcClientSettings,
  grpcSettings,
  kafkaSettings,
} from '@understudy/service';

export const settings = {
  kafka: kafkaSettings,
  grpc: grpcSettings,
  database: databaseSettings,
  /** The model registry's gRPC server, called with a writer's token. */
  registry: grpcClientSettings('UNDERSTUDY_REGISTRY'),
  executor: setting(
    'UNDERSTUDY_EXECUTOR',
    env.oneOf(['kubernetes', 'local']).default('kubernetes'),
  ),
  /** Where trainers read datasets and write adapters; the credentials only reach local trainers. */
  s3: {
    /** Required, except by local trainers of a host that shares its object store (embedded). */
    endpoint: setting('UNDERSTUDY_S3_ENDPOINT', env.url().optional()),
    region: setting('UNDERSTUDY_S3_REGION', env.text().default('us-east-1')),
    bucket: setting('UNDERSTUDY_S3_BUCKET', env.text().default('understudy')),
    accessKey: setting('UNDERSTUDY_S3_ACCESS_KEY', env.text().optional(), { secret: true }),
    secretKey: setting('UNDERSTUDY_S3_SECRET_KEY', env.text().optional(), { secret: true }),
  },
  /** Prefix of run outputs; default `s3://<bucket>/training-runs/`. */
  outputUri: setting('UNDERSTUDY_TRAINING_OUTPUT_URI', env.url().optional()),
  /** Base model of runs started by dataset events. */
  baseModel: setting('UNDERSTUDY_BASE_MODEL', env.text().default('Qwen/Qwen2.5-0.5B-Instruct')),
  /** Trainer `--config` of runs started by dataset events, e.g. `{"epochs": 2, "lora_r": 8}`. */
  trainingConfig: setting('UNDERSTUDY_TRAINING_CONFIG', env.jsonObject().default({})),
  /**
   * Minimum per metric of the held-out evaluation for a PASSED verdict, e.g.
   * `{"exact_match": 0.8}`; without any the evaluation is recorded without a verdict.
   */
  evaluationMinMetrics: setting(
    'UNDERSTUDY_EVALUATION_MIN_METRICS',
    env
      .jsonObject()
      .pipe(z.record(z.string(), z.number().min(0).max(1)))
      .default({}),
  ),
  progressIntervalMs: setting(
    'UNDERSTUDY_PROGRESS_INTERVAL_MS',
    env.nonNegativeInt().default(10_000),
  ),
  kubernetes: {
    namespace: setting('UNDERSTUDY_TRAINING_NAMESPACE', env.text().default('understudy-training')),
    image: setting('UNDERSTUDY_TRAINER_IMAGE', env.text().optional()),
    jobTemplateFile: setting('UNDERSTUDY_JOB_TEMPLATE_FILE', env.text().optional()),
    /** Explicit API server URL (outside a cluster); in a cluster the service env is used. */
    apiUrl: setting('UNDERSTUDY_KUBERNETES_API_URL', env.url().optional()),
    serviceHost: setting('KUBERNETES_SERVICE_HOST', env.text().optional()),
    servicePort: setting('KUBERNETES_SERVICE_PORT', env.port().default(443)),
    /** Holds `token`, `ca.crt`. */
    serviceAccountDir: setting(
      'UNDERSTUDY_KUBERNETES_SERVICE_ACCOUNT_DIR',
      env.text().default('/var/run/secrets/kubernetes.io/serviceaccount'),
    ),
  },
  local: {
    python: setting('UNDERSTUDY_TRAINER_PYTHON', env.text().default('python3')),
    /** Where `understudy_trainer` is importable from when it is not installed in that Python. */
    pythonPath: setting('UNDERSTUDY_TRAINER_PYTHONPATH', env.text().optional()),
    /** Scratch space of runs staged from a shared object store, one directory per run. */
    workDir: setting(
      'UNDERSTUDY_TRAINING_WORK_DIR',
      env.text().default(join(tmpdir(), 'understudy-training')),
    ),
  },
};
