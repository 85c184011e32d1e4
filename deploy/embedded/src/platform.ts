import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ConfigOf, ConfigShape, Environment } from '@understudy/config';
import { definition as clusterer } from '@understudy/clusterer';
import { definition as collector } from '@understudy/collector';
import { definition as datasetBuilder } from '@understudy/dataset-builder';
import { definition as embedder } from '@understudy/embedder';
import { definition as inferenceGateway } from '@understudy/inference-gateway';
import { definition as modelRegistry } from '@understudy/model-registry';
import { GrpcServer } from '@understudy/grpc';
import { InProcessDriver, catalog, ensureTopics } from '@understudy/messaging';
import {
  postgresUrl,
  startService,
  type RunningService,
  type ServiceDefinition,
} from '@understudy/service';
import { FilesystemDriver, type ObjectStore } from '@understudy/storage';
import { createLogger, startTelemetry, type Logger, type Telemetry } from '@understudy/telemetry';
import { definition as trainerOrchestrator } from '@understudy/trainer-orchestrator';
import type { embeddedConfig } from './config.js';
import { startLocalPostgres } from './postgres.js';
import { resolveServedModel } from './registry.js';
import { LocalServing } from './serving.js';

export type EmbeddedConfig = ConfigOf<typeof embeddedConfig>;

export interface Platform {
  readonly logger: Logger;
  /** The tenant's API key for the collector and the gateway (kept in the data dir). */
  readonly apiKey: string;
  readonly tenant: string;
  /** The bearer token of the registry's admin for the tenant (kept in the data dir). */
  readonly registryToken: string;
  /** Where that token is kept, for grpcurl and the CLI. */
  readonly registryTokenFile: string;
  readonly otlpUrl: string;
  readonly otlpGrpcAddress: string;
  readonly gatewayUrl: string;
  readonly registryAddress: string;
  readonly opsUrl: string;
  readonly store: ObjectStore;
  /** Stops intake first, then the pipeline, serving, the stores and telemetry. Idempotent. */
  stop(): Promise<void>;
}

const trainerDir = fileURLToPath(new URL('../../../services/trainer', import.meta.url));
const bucket = 'understudy';

/**
 * The whole platform in this process: the seven services on one in-process bus, one filesystem
 * object store and one embedded PostgreSQL (a schema each), local training runs staged through
 * the store, and a local serving endpoint for the trained adapters. The services read their own
 * settings from `serviceEnv`, as they would from a pod's environment.
 */
export async function startPlatform(
  config: EmbeddedConfig,
  serviceEnv: Environment = process.env,
): Promise<Platform> {
  const telemetry: Telemetry = await startTelemetry({
    serviceName: 'understudy-embedded',
    serviceVersion: '0.1.0',
    environment: 'embedded',
    logger: createLogger('understudy-embedded', { level: config.logLevel }),
    ops: { host: config.host, port: config.opsPort },
    ...(config.otlpEndpoint !== undefined && { otlpEndpoint: config.otlpEndpoint }),
  });
  const { logger } = telemetry;
  const stops: (() => Promise<void>)[] = [() => telemetry.shutdown()];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      telemetry.health.setShuttingDown();
      for (const step of stops.splice(0).reverse()) {
        try {
          await step();
        } catch (error) {
          logger.error({ err: error }, 'shutdown step failed');
        }
      }
    })();
    return stopping;
  };

  try {
    await mkdir(config.dataDir, { recursive: true, mode: 0o755 });
    const keys = await tenantKeys(config.dataDir, config.tenant);
    const access = await registryAccess(config.dataDir, config.tenant);
    const python = config.trainerPython ?? (await trainerVenvPython(logger));

    const postgres = await startLocalPostgres(join(config.dataDir, 'postgres'), logger);
    stops.push(() => postgres.stop());
    const databaseUrl = postgresUrl(postgres.connection);

    const store = new FilesystemDriver({ root: join(config.dataDir, 'objects'), logger });
    await store.init();
    const bus = new InProcessDriver();
    await ensureTopics(bus, catalog);

    const registryAddress = `${config.host}:${String(config.registryPort)}`;
    const serving = new LocalServing({
      host: config.host,
      port: 0,
      python,
      pythonPath: join(trainerDir, 'src'),
      store,
      bucket,
      workDir: join(config.dataDir, 'serving'),
      resolve: resolveServedModel(registryAddress, config.tenant, {
        metadata: { authorization: `Bearer ${access.tokens.serving}` },
      }),
      logger: logger.child({ component: 'serving' }),
    });
    const servingUrl = await serving.start();
    stops.push(() => serving.stop());

    // What every service would find in its pod's environment, then each one's own addresses.
    const common: Environment = {
      ...serviceEnv,
      UNDERSTUDY_LOG_LEVEL: config.logLevel,
      UNDERSTUDY_DATABASE_URL: databaseUrl,
      UNDERSTUDY_DATABASE_POOL_SIZE: process.env['UNDERSTUDY_DATABASE_POOL_SIZE'] ?? '4',
      UNDERSTUDY_S3_BUCKET: bucket,
      UNDERSTUDY_TENANT_KEYS_FILE: keys.file,
      UNDERSTUDY_REGISTRY_ADDRESS: registryAddress,
      UNDERSTUDY_GRPC_HOST: config.host,
      // Internal gRPC servers take any free port; the services that call them learn where.
      UNDERSTUDY_GRPC_PORT: '0',
    };
    const start = async <S extends ConfigShape>(
      definition: ServiceDefinition<S>,
      own: Environment,
    ) => {
      const service = await startService(
        definition,
        { ...common, ...own },
        { telemetry, drivers: { bus, store } },
      );
      stops.push(() => service.stop());
      return service;
    };
    const grpcAddress = (service: RunningService<ConfigShape>) =>
      `${config.host}:${String(service.app.get(GrpcServer).port)}`;
    // Downstream first, so that every service finds the ones it calls already listening.
    await start(modelRegistry, {
      UNDERSTUDY_GRPC_PORT: String(config.registryPort),
      UNDERSTUDY_SERVING_ENDPOINT: servingUrl,
      UNDERSTUDY_REGISTRY_PRINCIPALS_FILE: access.principalsFile,
    });
    const embedderAddress = grpcAddress(await start(embedder, {}));
    const clustererAddress = grpcAddress(
      await start(clusterer, {
        UNDERSTUDY_EMBEDDER_ADDRESS: embedderAddress,
        // One machine, light traffic: tasks show up within a minute rather than fifteen.
        UNDERSTUDY_CLUSTERER_RECLUSTER_INTERVAL_MS: '60000',
      }),
    );
    await start(datasetBuilder, {
      UNDERSTUDY_CLUSTERER_ADDRESS: clustererAddress,
      UNDERSTUDY_REGISTRY_TOKEN_FILE: access.tokenFiles['dataset-builder'],
    });
    await start(trainerOrchestrator, {
      UNDERSTUDY_REGISTRY_TOKEN_FILE: access.tokenFiles['trainer-orchestrator'],
      UNDERSTUDY_EXECUTOR: 'local',
      UNDERSTUDY_TRAINER_PYTHON: python,
      UNDERSTUDY_TRAINER_PYTHONPATH: join(trainerDir, 'src'),
      UNDERSTUDY_TRAINING_WORK_DIR: join(config.dataDir, 'training'),
    });
    await start(collector, {
      UNDERSTUDY_HTTP_HOST: config.host,
      UNDERSTUDY_HTTP_PORT: String(config.otlpPort),
      UNDERSTUDY_GRPC_PORT: String(config.otlpGrpcPort),
      UNDERSTUDY_COLLECTOR_REDACTION_SECRET: await redactionSecret(config.dataDir),
    });
    await start(inferenceGateway, {
      UNDERSTUDY_HTTP_HOST: config.host,
      UNDERSTUDY_HTTP_PORT: String(config.gatewayPort),
      UNDERSTUDY_CLUSTERER_ADDRESS: clustererAddress,
      UNDERSTUDY_REGISTRY_TOKEN_FILE: access.tokenFiles['inference-gateway'],
      UNDERSTUDY_LLM_BASE_URL: config.llm.baseUrl,
      ...(config.llm.apiKey !== undefined && { UNDERSTUDY_LLM_API_KEY: config.llm.apiKey }),
    });

    return {
      logger,
      apiKey: keys.apiKey,
      tenant: config.tenant,
      registryToken: access.tokens.admin,
      registryTokenFile: access.tokenFiles.admin,
      otlpUrl: `http://${config.host}:${String(config.otlpPort)}`,
      otlpGrpcAddress: `${config.host}:${String(config.otlpGrpcPort)}`,
      gatewayUrl: `http://${config.host}:${String(config.gatewayPort)}/v1`,
      registryAddress,
      opsUrl: telemetry.ops.url,
      store,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A random secret made on first start and kept in `file` (mode 0600), so that restarts, the demo
 * and the operator's tools keep using the same one.
 */
async function keptSecret(file: string, prefix = ''): Promise<string> {
  if (!existsSync(file)) {
    await writeFile(file, `${prefix}${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  }
  return (await readFile(file, 'utf8')).trim();
}

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** The tenant's API key (kept beside the data); the services only ever see its SHA-256. */
async function tenantKeys(dataDir: string, tenant: string) {
  const apiKey = await keptSecret(join(dataDir, 'api-key'), 'us_');
  const file = join(dataDir, 'tenant-keys.json');
  await writeFile(file, JSON.stringify([{ tenant, sha256: sha256(apiKey) }]), { mode: 0o600 });
  return { apiKey, file };
}

/**
 * The registry's callers and the least role each needs: the services for every tenant, the local
 * serving endpoint (which looks adapters up), and an admin of the platform's tenant for people
 * (grpcurl, the CLI, the demo), whose calls default to that tenant.
 */
const registryCallers = {
  'dataset-builder': { roles: ['writer'], everyTenant: true },
  'trainer-orchestrator': { roles: ['writer'], everyTenant: true },
  'inference-gateway': { roles: ['reader'], everyTenant: true },
  serving: { roles: ['reader'], everyTenant: true },
  admin: { roles: ['admin'], everyTenant: false },
} as const;

type RegistryCaller = keyof typeof registryCallers;

/**
 * A bearer token per registry caller, kept in `registry-tokens/<caller>`, and the registry's
 * principals file, which holds their SHA-256.
 */
async function registryAccess(dataDir: string, tenant: string) {
  const dir = join(dataDir, 'registry-tokens');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const callers = Object.keys(registryCallers) as RegistryCaller[];
  const kept = await Promise.all(
    callers.map(async (name) => {
      const file = join(dir, name);
      return { name, file, token: await keptSecret(file) };
    }),
  );
  const principals = kept.map(({ name, token }) => ({
    subject: name === 'admin' ? `${tenant}-admin` : name,
    tokenSha256: sha256(token),
    roles: registryCallers[name].roles,
    tenants: registryCallers[name].everyTenant ? ['*'] : [tenant],
  }));
  const principalsFile = join(dataDir, 'registry-principals.json');
  await writeFile(principalsFile, JSON.stringify(principals), { mode: 0o600 });
  const byCaller = <T>(value: (entry: (typeof kept)[number]) => T) =>
    Object.fromEntries(kept.map((entry) => [entry.name, value(entry)])) as Record<
      RegistryCaller,
      T
    >;
  return {
    principalsFile,
    tokenFiles: byCaller(({ file }) => file),
    tokens: byCaller(({ token }) => token),
  };
}

/** The secret behind redaction placeholders: a new one would give values new placeholders. */
async function redactionSecret(dataDir: string): Promise<string> {
  return keptSecret(join(dataDir, 'redaction-secret'));
}

/** The trainer's cached venv, built from its lock on first start (progress on stderr). */
async function trainerVenvPython(logger: Logger): Promise<string> {
  logger.info({}, 'preparing the trainer venv (the first start downloads PyTorch, ~3 GB)');
  const script = join(trainerDir, 'scripts/ensure-venv.sh');
  const child = promisify(execFile)('bash', [script], { encoding: 'utf8' });
  child.child.stderr?.pipe(process.stderr);
  const { stdout } = await child;
  return join(stdout.trim(), 'bin/python');
}
