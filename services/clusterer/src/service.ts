import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { readinessCheck } from '@understudy/database';
import { GrpcModule } from '@understudy/grpc';
import { MessagingModule, topics } from '@understudy/messaging';
import {
  grpcServerOptions,
  messagingDriver,
  openDatabase,
  type ServiceDefinition,
} from '@understudy/service';
import { HealthRegistry } from '@understudy/telemetry';
import type { DataSource } from 'typeorm';
import { settings } from './config.js';
import { GrpcCallDeriver, type CallDeriver } from './drivers/embedder-client.js';
import { TaskMemberRow, TaskRow } from './drivers/entities.js';
import { migrations } from './drivers/migrations.js';
import { TaskStore } from './drivers/task-store.js';
import { CALL_DERIVER } from './drivers/tokens.js';
import { producer } from './events.js';
import { CallEmbeddedHandler, CLUSTERING_POLICY } from './handlers/call-embedded.handler.js';
import { ClustererGrpc } from './handlers/clusterer.grpc.js';
import { TaskAnnouncer } from './handlers/task-announcer.js';
import { INDEX_TTL_MS, TaskIndex } from './handlers/task-index.js';

const DATA_SOURCE = Symbol('clusterer.DataSource');

/** Closes what the module opened, after consumers and gRPC stopped (application shutdown). */
class Resources implements OnApplicationShutdown {
  constructor(
    private readonly dataSource: DataSource,
    private readonly deriver: CallDeriver,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.deriver.close();
    await this.dataSource.destroy();
  }
}

@Module({})
class ClustererModule {}

export const definition: ServiceDefinition<typeof settings> = {
  name: producer,
  version: '0.1.0',
  settings,
  module: (config, telemetry, shared) => ({
    module: ClustererModule,
    imports: [
      MessagingModule.forRootAsync({
        useFactory: () => ({
          driver: messagingDriver(config.kafka, producer, telemetry.logger, shared),
          producerName: producer,
          topics: [topics.tasks],
          logger: telemetry.logger,
        }),
      }),
      GrpcModule.forRootAsync({
        useFactory: async () => ({
          ...(await grpcServerOptions(config.grpc)),
          logger: telemetry.logger,
        }),
      }),
    ],
    providers: [
      {
        provide: DATA_SOURCE,
        useFactory: () =>
          openDatabase(config.database, {
            schema: 'clusterer',
            entities: [TaskRow, TaskMemberRow],
            migrations,
            logger: telemetry.logger,
            applicationName: producer,
          }),
      },
      {
        provide: CALL_DERIVER,
        useFactory: () => new GrpcCallDeriver(config.embedder.address, config.embedder.timeoutMs),
      },
      {
        provide: Resources,
        inject: [DATA_SOURCE, CALL_DERIVER],
        useFactory: (dataSource: DataSource, deriver: CallDeriver) =>
          new Resources(dataSource, deriver),
      },
      {
        provide: TaskStore,
        inject: [DATA_SOURCE],
        useFactory: (dataSource: DataSource) => new TaskStore(dataSource),
      },
      { provide: CLUSTERING_POLICY, useValue: config.clustering },
      { provide: INDEX_TTL_MS, useValue: config.classifyCacheMs },
      TaskIndex,
      TaskAnnouncer,
      CallEmbeddedHandler,
      ClustererGrpc,
      {
        provide: 'readiness',
        inject: [HealthRegistry, DATA_SOURCE],
        useFactory: (health: HealthRegistry, dataSource: DataSource) =>
          health.register('postgres', readinessCheck(dataSource, { timeoutMs: 2_000 })),
      },
    ],
  }),
};
