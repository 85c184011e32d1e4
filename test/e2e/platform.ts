import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { definition as clusterer } from '@understudy/clusterer';
import { definition as collector } from '@understudy/collector';
import type { ConfigShape } from '@understudy/config';
import { definition as datasetBuilder } from '@understudy/dataset-builder';
import { definition as embedder } from '@understudy/embedder';
import { GrpcServer } from '@understudy/grpc';
import { definition as inferenceGateway } from '@understudy/inference-gateway';
import { definition as modelRegistry } from '@understudy/model-registry';
import {
  postgresUrl,
  startService,
  type RunningService,
  type ServiceDefinition,
} from '@understudy/service';
import { createLogger, startTelemetry, type Telemetry } from '@understudy/telemetry';
import {
  freePort,
  type KafkaEndpoint,
  type PostgresEndpoint,
  type S3Endpoint,
} from '@understudy/testbed';
import { definition as trainerOrchestrator } from '@understudy/trainer-orchestrator';

/**
 * The seven services in this process, wired to each other as in a deployment: real Kafka,
 * MinIO and PostgreSQL underneath, gRPC and HTTP on loopback between them, one shared telemetry.
 */
export interface PlatformOptions {
  readonly kafka: KafkaEndpoint;
  readonly s3: S3Endpoint;
  readonly bucket: string;
  /** A database of its own; each service migrates its schema in it. */
  readonly postgres: PostgresEndpoint;
  readonly tenantKeysFile: string;
  /** Who may call the registry: its principals file and the services' token files. */
  readonly registryAccess: RegistryAccess;
  /** The LLM's OpenAI-compatible base URL (`…/v1`). */
  readonly llmBaseUrl: string;
  /** Where promoted adapters are served (`…/v1`), written on routes by the registry. */
  readonly servingEndpoint: string;
  readonly trainer: { readonly python: string; readonly pythonPath: string };
  readonly scale: PlatformScale;
  /** Every service's log lines, JSON. */
  readonly logFile: string;
  /** OTLP/HTTP receiver of the services' spans. */
  readonly otlpEndpoint: string;
}

/** The thresholds that decide when a task, a dataset and a training run happen. */
export interface PlatformScale {
  readonly minTaskSize: number;
  /** Calls that make the clusterer re-cluster at once: all the test sends, so it runs once. */
  readonly reclusterAfterCalls: number;
  readonly minDatasetCalls: number;
  readonly evalFraction: number;
  readonly baseModel: string;
  /** The trainer's `--config`. */
  readonly trainingConfig: Readonly<Record<string, unknown>>;
}

export interface Platform {
  /** OTLP/HTTP traces URL of the collector. */
  readonly collectorUrl: string;
  /** OpenAI-compatible base URL of the gateway (`…/v1`). */
  readonly gatewayUrl: string;
  /** gRPC `host:port` of the services that serve it. */
  readonly grpc: {
    readonly registry: string;
    readonly clusterer: string;
    readonly datasetBuilder: string;
    readonly trainerOrchestrator: string;
  };
  /** Stops the services, edge first, then the shared telemetry (flushing its spans). */
  stop(): Promise<void>;
}

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const logs = createWriteStream(options.logFile, { flags: 'a' });
  const telemetry = await startTelemetry({
    serviceName: 'understudy-e2e',
    serviceVersion: '0.1.0',
    logger: createLogger('understudy-e2e', { level: 'info', destination: logs }),
    ops: { host: '127.0.0.1', port: 0 },
    otlpEndpoint: options.otlpEndpoint,
  });
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    // Every service gets its stop even when one fails; the failures are reported together.
    const failures: unknown[] = [];
    for (const stopService of stops.reverse()) {
      await stopService().catch((error: unknown) => failures.push(error));
    }
    await telemetry.shutdown();
    await new Promise((resolve) => logs.end(resolve));
    if (failures.length > 0) {
      throw new AggregateError(failures, 'the platform did not stop cleanly');
    }
  };
  try {
    return { ...(await startAll(options, telemetry, stops)), stop };
  } catch (error) {
    // The start's failure is the one worth reporting, not what stopping the rest then hit.
    await stop().catch(() => undefined);
    throw error;
  }
}

async function startAll(
  options: PlatformOptions,
  telemetry: Telemetry,
  stops: (() => Promise<void>)[],
): Promise<Omit<Platform, 'stop'>> {
  const { kafka, s3, postgres, scale } = options;
  const env = {
    common: {
      UNDERSTUDY_OPS_HOST: '127.0.0.1',
      UNDERSTUDY_OPS_PORT: '0',
      UNDERSTUDY_GRPC_HOST: '127.0.0.1',
      UNDERSTUDY_GRPC_PORT: '0',
      UNDERSTUDY_KAFKA_BROKERS: kafka.brokers.join(','),
    },
    database: {
      UNDERSTUDY_DATABASE_URL: postgresUrl(postgres),
      // Four services share the test bed's server with every other test file.
      UNDERSTUDY_DATABASE_POOL_SIZE: '4',
    },
    s3: {
      UNDERSTUDY_S3_ENDPOINT: `http://${s3.endPoint}:${String(s3.port)}`,
      UNDERSTUDY_S3_REGION: s3.region,
      UNDERSTUDY_S3_BUCKET: options.bucket,
      UNDERSTUDY_S3_ACCESS_KEY: s3.accessKey,
      UNDERSTUDY_S3_SECRET_KEY: s3.secretKey,
    },
  };

  /** Starts one service on the shared telemetry, to be stopped with the platform. */
  const start = async <S extends ConfigShape>(
    definition: ServiceDefinition<S>,
    settings: Record<string, string>,
  ): Promise<RunningService<S>> => {
    const service = await startService(definition, { ...env.common, ...settings }, { telemetry });
    stops.push(() => service.stop());
    return service;
  };

  // Dependencies first: the registry is everyone's peer, the embedder the clusterer's.
  const registry = grpcAddress(
    await start(modelRegistry, {
      ...env.database,
      UNDERSTUDY_SERVING_ENDPOINT: options.servingEndpoint,
      UNDERSTUDY_REGISTRY_PRINCIPALS_FILE: options.registryAccess.principalsFile,
    }),
  );
  const embedderAddress = grpcAddress(await start(embedder, {}));
  const clustererAddress = grpcAddress(
    await start(clusterer, {
      ...env.database,
      UNDERSTUDY_EMBEDDER_ADDRESS: embedderAddress,
      UNDERSTUDY_CLUSTERER_MIN_TASK_SIZE: String(scale.minTaskSize),
      // Task-sized signature groups stand alone; the default (15) suits real traffic.
      UNDERSTUDY_CLUSTERER_MIN_CLUSTER_SIZE: String(scale.minTaskSize),
      UNDERSTUDY_CLUSTERER_RECLUSTER_AFTER_CALLS: String(scale.reclusterAfterCalls),
      UNDERSTUDY_CLUSTERER_CHECK_MS: '250',
    }),
  );
  const datasetBuilderAddress = grpcAddress(
    await start(datasetBuilder, {
      ...env.database,
      ...env.s3,
      UNDERSTUDY_REGISTRY_ADDRESS: registry,
      UNDERSTUDY_REGISTRY_TOKEN_FILE: options.registryAccess.tokenFiles['dataset-builder'],
      UNDERSTUDY_CLUSTERER_ADDRESS: clustererAddress,
      UNDERSTUDY_DATASET_MIN_CALLS: String(scale.minDatasetCalls),
      UNDERSTUDY_DATASET_EVAL_FRACTION: String(scale.evalFraction),
    }),
  );
  const trainerOrchestratorAddress = grpcAddress(
    await start(trainerOrchestrator, {
      ...env.database,
      ...env.s3,
      UNDERSTUDY_REGISTRY_ADDRESS: registry,
      UNDERSTUDY_REGISTRY_TOKEN_FILE: options.registryAccess.tokenFiles['trainer-orchestrator'],
      UNDERSTUDY_EXECUTOR: 'local',
      UNDERSTUDY_TRAINER_PYTHON: options.trainer.python,
      UNDERSTUDY_TRAINER_PYTHONPATH: options.trainer.pythonPath,
      UNDERSTUDY_BASE_MODEL: scale.baseModel,
      UNDERSTUDY_TRAINING_CONFIG: JSON.stringify(scale.trainingConfig),
      // Every progress line becomes an event, so the test sees each training step.
      UNDERSTUDY_PROGRESS_INTERVAL_MS: '0',
    }),
  );

  const [collectorPort, gatewayPort] = [await freePort(), await freePort()];
  await start(collector, {
    ...env.s3,
    UNDERSTUDY_TENANT_KEYS_FILE: options.tenantKeysFile,
    UNDERSTUDY_HTTP_HOST: '127.0.0.1',
    UNDERSTUDY_HTTP_PORT: String(collectorPort),
    UNDERSTUDY_COLLECTOR_REDACTION_SECRET: 'e2e-redaction-secret-0123456789abcdef',
    // The gateway's spans have their parents in the agents, which export elsewhere.
    UNDERSTUDY_COLLECTOR_JOIN_TIMEOUT_MS: '2000',
  });
  await start(inferenceGateway, {
    UNDERSTUDY_TENANT_KEYS_FILE: options.tenantKeysFile,
    UNDERSTUDY_HTTP_HOST: '127.0.0.1',
    UNDERSTUDY_HTTP_PORT: String(gatewayPort),
    UNDERSTUDY_REGISTRY_ADDRESS: registry,
    UNDERSTUDY_REGISTRY_TOKEN_FILE: options.registryAccess.tokenFiles['inference-gateway'],
    UNDERSTUDY_CLUSTERER_ADDRESS: clustererAddress,
    // The default 250 ms suits a dedicated clusterer, not seven services on two busy cores.
    UNDERSTUDY_CLASSIFY_TIMEOUT_MS: '5000',
    UNDERSTUDY_LLM_BASE_URL: options.llmBaseUrl,
  });

  return {
    collectorUrl: `http://127.0.0.1:${String(collectorPort)}/v1/traces`,
    gatewayUrl: `http://127.0.0.1:${String(gatewayPort)}/v1`,
    grpc: {
      registry,
      clusterer: clustererAddress,
      datasetBuilder: datasetBuilderAddress,
      trainerOrchestrator: trainerOrchestratorAddress,
    },
  };
}

/** Where a service's gRPC server listens (it was started on port 0). */
function grpcAddress(service: RunningService<ConfigShape>): string {
  return `127.0.0.1:${String(service.app.get(GrpcServer).port)}`;
}

/** Writes the keys file the collector and the gateway read: `[{ tenant, sha256 }]`. */
export async function writeTenantKeys(
  file: string,
  keys: Readonly<Record<string, string>>,
): Promise<void> {
  const entries = Object.entries(keys).map(([tenant, key]) => ({
    tenant,
    sha256: createHash('sha256').update(key).digest('hex'),
  }));
  await writeFile(file, JSON.stringify(entries));
}

/** The services that call the registry, each with the least role it needs, for every tenant. */
const registryServices = {
  'dataset-builder': 'writer',
  'trainer-orchestrator': 'writer',
  'inference-gateway': 'reader',
} as const;

export interface RegistryAccess {
  readonly principalsFile: string;
  readonly tokenFiles: Readonly<Record<keyof typeof registryServices, string>>;
}

/**
 * Writes the registry's principals file into `dir`: a token file per calling service, and
 * `people` (subject → token) as admins of `tenantId`, as an operator and the test call.
 */
export async function writeRegistryAccess(
  dir: string,
  tenantId: string,
  people: Readonly<Record<string, string>>,
): Promise<RegistryAccess> {
  const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');
  const services = Object.entries(registryServices).map(([service, role]) => ({
    service,
    role,
    token: randomBytes(24).toString('hex'),
    file: join(dir, `${service}.token`),
  }));
  for (const { token, file } of services) await writeFile(file, token, { mode: 0o600 });
  const principals = [
    ...services.map(({ service, role, token }) => ({
      subject: service,
      tokenSha256: sha256(token),
      roles: [role],
      tenants: ['*'],
    })),
    ...Object.entries(people).map(([subject, token]) => ({
      subject,
      tokenSha256: sha256(token),
      roles: ['admin'],
      tenants: [tenantId],
    })),
  ];
  const principalsFile = join(dir, 'registry-principals.json');
  await writeFile(principalsFile, JSON.stringify(principals), { mode: 0o600 });
  return {
    principalsFile,
    tokenFiles: Object.fromEntries(services.map(({ service, file }) => [service, file])) as Record<
      keyof typeof registryServices,
      string
    >,
  };
}
