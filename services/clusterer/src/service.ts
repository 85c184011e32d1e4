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
import { readFile } from 'node:fs/promises';
import { HealthRegistry } from '@understudy/telemetry';
import { Messaging } from '@understudy/messaging';
import type { DataSource } from 'typeorm';
import { settings } from './config.js';
import { defaultPriceTable, parsePriceTable, type PriceTable } from './domain/prices.js';
import { CallStore } from './drivers/call-store.js';
import { GrpcCallDeriver, type CallDeriver } from './drivers/embedder-client.js';
import { CallRow, OutboxRow, SignatureRow, TaskRow, TenantStateRow } from './drivers/entities.js';
import { migrations } from './drivers/migrations.js';
import { TaskStore } from './drivers/task-store.js';
import { CALL_DERIVER, PRICE_TABLE } from './drivers/tokens.js';
import { producer } from './events.js';
import { CallEmbeddedHandler } from './handlers/call-embedded.handler.js';
import { ClustererGrpc } from './handlers/clusterer.grpc.js';
import { Reclusterer } from './handlers/reclusterer.js';
import { INDEX_TTL_MS, TaskIndexes } from './handlers/task-index.js';

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
            entities: [TaskRow, CallRow, SignatureRow, TenantStateRow, OutboxRow],
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
      {
        provide: CallStore,
        inject: [DATA_SOURCE],
        useFactory: (dataSource: DataSource) => new CallStore(dataSource),
      },
      {
        provide: PRICE_TABLE,
        useFactory: async (): Promise<PriceTable> => {
          const file = config.priceTableFile;
          return file === undefined
            ? defaultPriceTable
            : parsePriceTable(await readFile(file, 'utf8'), file);
        },
      },
      { provide: INDEX_TTL_MS, useValue: config.indexTtlMs },
      TaskIndexes,
      CallEmbeddedHandler,
      ClustererGrpc,
      {
        provide: Reclusterer,
        inject: [CallStore, TaskStore, TaskIndexes, Messaging, PRICE_TABLE],
        useFactory: (
          calls: CallStore,
          tasks: TaskStore,
          indexes: TaskIndexes,
          messaging: Messaging,
          prices: PriceTable,
        ) =>
          new Reclusterer(
            calls,
            tasks,
            indexes,
            messaging,
            { ...config.reclustering, discovery: config.discovery, prices },
            telemetry.logger,
          ),
      },
      {
        provide: 'readiness',
        inject: [HealthRegistry, DATA_SOURCE],
        useFactory: (health: HealthRegistry, dataSource: DataSource) =>
          health.register('postgres', readinessCheck(dataSource, { timeoutMs: 2_000 })),
      },
    ],
  }),
};
