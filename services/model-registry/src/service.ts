import {
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { readinessCheck } from '@understudy/database';
import { GrpcModule } from '@understudy/grpc';
import { Messaging, MessagingModule, topics } from '@understudy/messaging';
import {
  messagingDriver,
  openDatabase,
  type ServiceConfig,
  type ServiceDefinition,
  type SharedDrivers,
} from '@understudy/service';
import { HealthRegistry, type Logger } from '@understudy/telemetry';
import { DataSource } from 'typeorm';
import { settings } from './config.js';
import { producerName } from './domain/events.js';
import { ModelRegistry } from './domain/model-registry.js';
import { RevisionNotifier } from './domain/revision-notifier.js';
import { DatasetStore } from './drivers/datasets.js';
import { entities } from './drivers/entities.js';
import { migrations } from './drivers/migrations.js';
import { ModelVersionStore } from './drivers/model-versions.js';
import { RoutingStore } from './drivers/routing.js';
import { ViewStore } from './drivers/views.js';
import { ViewConsumers } from './handlers/events.consumer.js';
import { RegistryGrpc } from './handlers/registry.grpc.js';

export type RegistryConfig = ServiceConfig<typeof settings>;

/** Defaults of new routes until UpdateRoute tunes them: fall back to the LLM on doubt. */
const routeDefaults = { minConfidence: 0.5, fallbackToLlm: true, validateOutput: true };

/** Readiness follows PostgreSQL and Kafka; the pool closes after the producer at shutdown. */
@Injectable()
class Dependencies implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
  ) {}

  onApplicationBootstrap(): void {
    this.health.register('postgres', readinessCheck(this.dataSource));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dataSource.destroy();
  }
}

function registryModule(config: RegistryConfig, logger: Logger, shared: SharedDrivers) {
  @Module({})
  class ModelRegistryModule {}

  return {
    module: ModelRegistryModule,
    imports: [
      MessagingModule.forRootAsync({
        useFactory: () => ({
          driver: messagingDriver(config.kafka, producerName, logger, shared),
          producerName,
          logger,
          topics: [topics.modelVersions, topics.routes],
        }),
      }),
      GrpcModule.forRootAsync({ useFactory: () => ({ ...config.grpc, logger }) }),
    ],
    providers: [
      {
        provide: DataSource,
        useFactory: () =>
          openDatabase(config.database, {
            schema: 'registry',
            entities,
            migrations,
            logger,
            applicationName: producerName,
          }),
      },
      {
        provide: DatasetStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new DatasetStore(ds),
      },
      {
        provide: RoutingStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new RoutingStore(ds),
      },
      {
        provide: ViewStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new ViewStore(ds),
      },
      {
        provide: ModelVersionStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) =>
          new ModelVersionStore(ds, { ...routeDefaults, endpoint: config.servingEndpoint ?? '' }),
      },
      RevisionNotifier,
      {
        provide: ModelRegistry,
        inject: [DatasetStore, ModelVersionStore, RoutingStore, ViewStore, RevisionNotifier],
        useFactory: (
          datasets: DatasetStore,
          modelVersions: ModelVersionStore,
          routing: RoutingStore,
          views: ViewStore,
          notifier: RevisionNotifier,
        ) =>
          new ModelRegistry(
            { datasets, modelVersions, routing, views },
            notifier,
            config.routingPollMs,
            logger,
          ),
      },
      Dependencies,
      RegistryGrpc,
      ViewConsumers,
    ],
  };
}

export const definition: ServiceDefinition<typeof settings> = {
  name: producerName,
  version: '0.1.0',
  settings,
  module: (config, telemetry, shared) => registryModule(config, telemetry.logger, shared),
};
