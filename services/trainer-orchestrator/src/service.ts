import {
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import { readinessCheck } from '@understudy/database';
import { GrpcModule } from '@understudy/grpc';
import { Messaging, MessagingModule, topics } from '@understudy/messaging';
import {
  grpcClientOptions,
  grpcServerOptions,
  messagingDriver,
  openDatabase,
  type ServiceConfig,
  type ServiceDefinition,
} from '@understudy/service';
import { HealthRegistry } from '@understudy/telemetry';
import type { DataSource } from 'typeorm';
import { settings } from './config.js';
import { Orchestrator } from './domain/orchestrator.js';
import type { Executor } from './drivers/executor.js';
import { GrpcModelRegistry, type ModelRegistry } from './drivers/model-registry.js';
import { migrations } from './drivers/postgres/migrations.js';
import { PostgresRunStore } from './drivers/postgres/postgres-run-store.js';
import { TrainingRunRow } from './drivers/postgres/training-run.entity.js';
import { createExecutor } from './executors.js';
import { DatasetEventsHandler } from './handlers/dataset-events.handler.js';
import { TrainerOrchestratorGrpc } from './handlers/trainer-orchestrator.grpc.js';
import { EXECUTOR, REGISTRY, RUN_STORE } from './tokens.js';

export type TrainerOrchestratorConfig = ServiceConfig<typeof settings>;

const name = 'trainer-orchestrator';
const DATA_SOURCE = Symbol('trainer-orchestrator.DataSource');

/** Readiness checks, resuming runs at boot, and releasing the drivers in order at shutdown. */
@Injectable()
class Lifecycle implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  constructor(
    @Inject(Orchestrator) private readonly orchestrator: Orchestrator,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(EXECUTOR) private readonly executor: Executor,
    @Inject(REGISTRY) private readonly registry: ModelRegistry,
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.health.register('postgres', readinessCheck(this.dataSource, { timeoutMs: 2_000 }));
    await this.orchestrator.resume();
  }

  /** Stops following jobs before the producer closes; the jobs keep running. */
  async onModuleDestroy(): Promise<void> {
    await this.orchestrator.close();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.executor.close();
    this.registry.close();
    await this.dataSource.destroy();
  }
}

@Module({})
class TrainerOrchestratorModule {}

export const definition: ServiceDefinition<typeof settings> = {
  name,
  version: '0.1.0',
  settings,
  module: (config, telemetry, shared) => {
    const { logger } = telemetry;
    return {
      module: TrainerOrchestratorModule,
      imports: [
        MessagingModule.forRootAsync({
          useFactory: () => ({
            driver: messagingDriver(config.kafka, name, logger, shared),
            producerName: name,
            logger,
            topics: [topics.trainingRuns],
          }),
        }),
        GrpcModule.forRootAsync({
          useFactory: async () => ({ ...(await grpcServerOptions(config.grpc)), logger }),
        }),
      ],
      providers: [
        {
          provide: DATA_SOURCE,
          useFactory: () =>
            openDatabase(config.database, {
              schema: 'trainer',
              entities: [TrainingRunRow],
              migrations,
              logger,
              applicationName: name,
            }),
        },
        {
          provide: RUN_STORE,
          inject: [DATA_SOURCE],
          useFactory: (dataSource: DataSource) => new PostgresRunStore(dataSource),
        },
        { provide: EXECUTOR, useFactory: () => createExecutor(config, logger, shared.store) },
        {
          provide: REGISTRY,
          useFactory: async () =>
            new GrpcModelRegistry(
              config.registry.address,
              await grpcClientOptions(settings.registry, config.registry),
            ),
        },
        {
          provide: Orchestrator,
          inject: [RUN_STORE, EXECUTOR, REGISTRY, Messaging],
          useFactory: (
            store: PostgresRunStore,
            executor: Executor,
            registry: ModelRegistry,
            messaging: Messaging,
          ) => {
            const outputBase = (
              config.outputUri ?? `s3://${config.s3.bucket}/training-runs/`
            ).replace(/\/?$/, '/');
            return new Orchestrator({
              store,
              executor,
              registry,
              publish: (event) => messaging.publish(topics.trainingRuns, event),
              producer: name,
              outputUri: (tenantId, runId) =>
                `${outputBase}${encodeURIComponent(tenantId)}/${runId}/`,
              progressIntervalMs: config.progressIntervalMs,
              evaluationMinMetrics: config.evaluationMinMetrics,
              logger,
            });
          },
        },
        Lifecycle,
        DatasetEventsHandler,
        TrainerOrchestratorGrpc,
      ],
    };
  },
};
