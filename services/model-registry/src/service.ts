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
  grpcServerOptions,
  messagingDriver,
  openDatabase,
  postgresConnection,
  type ServiceConfig,
  type ServiceDefinition,
  type SharedDrivers,
} from '@understudy/service';
import { HealthRegistry, type Logger } from '@understudy/telemetry';
import { DataSource } from 'typeorm';
import { registryAccess } from './auth/access.js';
import { settings } from './config.js';
import { producerName } from './domain/events.js';
import { Lineage } from './domain/lineage.js';
import { ModelRegistry } from './domain/model-registry.js';
import { RevisionNotifier } from './domain/revision-notifier.js';
import { RoutingFeed } from './domain/routing-feed.js';
import { RoutingWatch } from './domain/routing-watch.js';
import { ApprovalStore } from './drivers/approvals.js';
import { AuditLog } from './drivers/audit.js';
import { DatasetStore } from './drivers/datasets.js';
import { EvaluationStore } from './drivers/evaluations.js';
import { entities } from './drivers/entities.js';
import { migrations } from './drivers/migrations.js';
import { ModelVersionStore } from './drivers/model-versions.js';
import { PostgresOutbox } from './drivers/outbox.js';
import { PolicyStore } from './drivers/policies.js';
import { PromotionStore } from './drivers/promotions.js';
import { RouteStore } from './drivers/routes.js';
import { RoutingStore } from './drivers/routing.js';
import { RoutingListener } from './drivers/routing-listener.js';
import { ReviewReader } from './drivers/reviews.js';
import { TaskStore } from './drivers/tasks.js';
import { ViewStore } from './drivers/views.js';
import { ViewConsumers } from './handlers/events.consumer.js';
import { OutboxRelay, outboxRelayOptions } from './handlers/outbox.relay.js';
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
          topics: [topics.modelVersions, topics.routes, topics.audit],
        }),
      }),
      GrpcModule.forRootAsync({
        useFactory: async () => ({
          ...(await grpcServerOptions(config.grpc)),
          ...(await registryAccess(config.access, logger)),
          logger,
        }),
      }),
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
        provide: TaskStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new TaskStore(ds),
      },
      {
        provide: Lineage,
        inject: [DataSource, TaskStore, DatasetStore, ViewStore, ModelVersionStore, RoutingStore],
        useFactory: (
          ds: DataSource,
          tasks: TaskStore,
          datasets: DatasetStore,
          runs: ViewStore,
          modelVersions: ModelVersionStore,
          routing: RoutingStore,
        ) =>
          new Lineage({
            tasks,
            datasets,
            runs,
            modelVersions,
            routing,
            reviews: new ReviewReader(ds),
          }),
      },
      {
        provide: ModelVersionStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new ModelVersionStore(ds),
      },
      {
        provide: PromotionStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) =>
          new PromotionStore(ds, { ...routeDefaults, endpoint: config.servingEndpoint ?? '' }),
      },
      {
        provide: EvaluationStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new EvaluationStore(ds),
      },
      {
        provide: ApprovalStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new ApprovalStore(ds),
      },
      {
        provide: PolicyStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new PolicyStore(ds),
      },
      {
        provide: RouteStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new RouteStore(ds),
      },
      RevisionNotifier,
      {
        provide: ModelRegistry,
        inject: [
          DatasetStore,
          ModelVersionStore,
          PromotionStore,
          RoutingStore,
          ViewStore,
          RevisionNotifier,
        ],
        useFactory: (
          datasets: DatasetStore,
          modelVersions: ModelVersionStore,
          promotions: PromotionStore,
          routing: RoutingStore,
          views: ViewStore,
          notifier: RevisionNotifier,
        ) =>
          new ModelRegistry(
            { datasets, modelVersions, promotions, routing, views },
            notifier,
            logger,
          ),
      },
      {
        provide: RoutingFeed,
        inject: [RoutingStore, RevisionNotifier],
        useFactory: (routing: RoutingStore, notifier: RevisionNotifier) =>
          new RoutingFeed(
            routing,
            notifier,
            { pollMs: config.routingPollMs, ringSize: config.routingFeedSize },
            logger,
          ),
      },
      {
        provide: RoutingWatch,
        inject: [RoutingStore, RoutingFeed],
        useFactory: (routing: RoutingStore, feed: RoutingFeed) =>
          new RoutingWatch(
            routing,
            feed,
            {
              revisions: config.routingRetentionRevisions,
              hours: config.routingRetentionHours,
            },
            logger,
          ),
      },
      {
        provide: RoutingListener,
        inject: [RoutingFeed],
        useFactory: (feed: RoutingFeed) =>
          new RoutingListener(
            {
              ...postgresConnection(config.database),
              application_name: `${producerName}-routing-listener`,
              connectionTimeoutMillis: 10_000,
            },
            feed,
            logger,
          ),
      },
      { provide: AuditLog, inject: [DataSource], useFactory: (ds: DataSource) => new AuditLog(ds) },
      {
        provide: OutboxRelay,
        inject: [DataSource, Messaging],
        useFactory: (ds: DataSource, messaging: Messaging) =>
          new OutboxRelay(new PostgresOutbox(ds), messaging, outboxRelayOptions(config), logger),
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
