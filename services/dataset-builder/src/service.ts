import {
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { readinessCheck } from '@understudy/database';
import { GrpcModule } from '@understudy/grpc';
import { Messaging, MessagingModule } from '@understudy/messaging';
import {
  grpcClientOptions,
  grpcServerOptions,
  messagingDriver,
  objectStore,
  openDatabase,
  type ServiceDefinition,
} from '@understudy/service';
import type { ObjectStore } from '@understudy/storage';
import { readContentKeys } from '@understudy/tenancy';
import { HealthRegistry, type Logger } from '@understudy/telemetry';
import type { DataSource } from 'typeorm';
import { settings } from './config.js';
import { DatasetBuilder } from './domain/dataset-builder.js';
import type { DatasetStore } from './domain/ports.js';
import { GrpcDatasetRegistry } from './drivers/grpc-registry.js';
import { GrpcTaskCalls } from './drivers/grpc-task-calls.js';
import { PostgresDatasetStore } from './drivers/postgres-store.js';
import { entities, migrations } from './drivers/schema.js';
import { CallsHandler } from './handlers/calls.handler.js';
import { DatasetBuilderGrpc } from './handlers/dataset-builder.grpc.js';
import { TasksHandler } from './handlers/tasks.handler.js';
import { DATA_SOURCE, DATASET_STORE, OBJECT_STORE, REGISTRY, TASK_CALLS } from './tokens.js';

const name = 'dataset-builder';
const version = '0.1.0';

/** Readiness of every dependency; closes the clients that no module owns. */
@Injectable()
class Dependencies implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(OBJECT_STORE) private readonly objects: ObjectStore,
    @Inject(REGISTRY) private readonly registry: GrpcDatasetRegistry,
    @Inject(TASK_CALLS) private readonly taskCalls: GrpcTaskCalls,
    @Inject(Messaging) private readonly messaging: Messaging,
  ) {}

  onModuleInit(): void {
    this.health.register('postgres', readinessCheck(this.dataSource));
    this.health.register('object-store', async () => {
      await this.objects.exists('datasets/.readiness');
      return { healthy: true };
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.registry.close();
    this.taskCalls.close();
    await this.dataSource.destroy();
  }
}

export const definition: ServiceDefinition<typeof settings> = {
  name,
  version,
  settings,
  module: (config, telemetry, shared) => {
    const logger: Logger = telemetry.logger;
    @Module({
      imports: [
        MessagingModule.forRootAsync({
          useFactory: () => ({
            driver: messagingDriver(config.kafka, name, logger, shared),
            producerName: name,
            logger,
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
              schema: 'datasets',
              entities,
              migrations,
              logger,
              applicationName: name,
            }),
        },
        {
          provide: OBJECT_STORE,
          useFactory: async () => {
            const store = objectStore(config.s3, logger, shared);
            await store.init();
            return store;
          },
        },
        {
          provide: REGISTRY,
          useFactory: async () =>
            new GrpcDatasetRegistry(
              config.registry.address,
              await grpcClientOptions(settings.registry, config.registry),
            ),
        },
        { provide: TASK_CALLS, useFactory: () => new GrpcTaskCalls(config.clustererAddress) },
        {
          provide: DATASET_STORE,
          inject: [DATA_SOURCE],
          useFactory: (dataSource: DataSource): DatasetStore =>
            new PostgresDatasetStore(dataSource),
        },
        {
          provide: DatasetBuilder,
          inject: [DATASET_STORE, OBJECT_STORE, REGISTRY, Messaging],
          useFactory: async (
            store: DatasetStore,
            objects: ObjectStore,
            registry: GrpcDatasetRegistry,
            messaging: Messaging,
          ) =>
            new DatasetBuilder(
              { store, objects, registry, messaging },
              {
                policy: { minCalls: config.minCalls, evalFraction: config.evalFraction },
                bucket: config.s3.bucket,
                producer: name,
                builderVersion: `${name}@${version}`,
                keyring:
                  config.contentKeysFile === undefined
                    ? undefined
                    : await readContentKeys(config.contentKeysFile),
                logger,
              },
            ),
        },
        Dependencies,
        CallsHandler,
        TasksHandler,
        DatasetBuilderGrpc,
      ],
    })
    class DatasetBuilderModule {}
    return { module: DatasetBuilderModule };
  },
};
