import { join } from 'node:path';
import type { ConfigOf } from '@understudy/config';
import { createDataSource, migrate, readinessCheck } from '@understudy/database';
import { GrpcServer } from '@understudy/grpc';
import { InProcessDriver, Messaging, catalog, ensureTopics } from '@understudy/messaging';
import { FilesystemDriver, type ObjectStore } from '@understudy/storage';
import { startTelemetry, type Logger, type Telemetry } from '@understudy/telemetry';
import type { embeddedConfig } from './config.js';
import { startLocalPostgres } from './postgres.js';

export type EmbeddedConfig = ConfigOf<typeof embeddedConfig>;

export interface Platform {
  readonly logger: Logger;
  readonly grpcAddress: string;
  readonly opsUrl: string;
  readonly store: ObjectStore;
  readonly messaging: Messaging;
  /** Stops intake first, then the stores: gRPC, bus, database, telemetry. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the platform's shared infrastructure in this process: the in-process bus with every
 * catalog topic, the filesystem object store, a persistent PostgreSQL with migrations applied,
 * one gRPC endpoint (health and reflection) and the ops server (metrics, liveness, readiness).
 * The services mount onto these.
 */
export async function startPlatform(config: EmbeddedConfig): Promise<Platform> {
  const telemetry: Telemetry = await startTelemetry({
    serviceName: 'understudy-embedded',
    serviceVersion: '0.1.0',
    environment: 'embedded',
    ops: { host: config.host, port: config.opsPort },
    ...(config.otlpEndpoint === undefined ? {} : { otlpEndpoint: config.otlpEndpoint }),
  });
  const { logger, health } = telemetry;
  const stops: (() => Promise<void>)[] = [() => telemetry.shutdown()];
  const stop = async () => {
    health.setShuttingDown();
    for (const step of stops.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        logger.error({ err: error }, 'shutdown step failed');
      }
    }
  };

  try {
    const postgres = await startLocalPostgres(join(config.dataDir, 'postgres'), logger);
    stops.push(() => postgres.stop());
    const database = await createDataSource({
      postgres: postgres.connection,
      applicationName: 'understudy-embedded',
      entities: [],
      migrations: [],
      logger,
    });
    stops.push(() => database.destroy());
    await migrate(database);
    health.register('postgres', readinessCheck(database));

    const store = new FilesystemDriver({ root: join(config.dataDir, 'objects'), logger });
    await store.init();

    const driver = new InProcessDriver();
    await ensureTopics(driver, catalog);
    const messaging = new Messaging({ driver, producerName: 'understudy-embedded', logger });
    // Connected for publishing; consumers start once the services have registered handlers.
    await messaging.connect();
    stops.push(() => messaging.stop());
    health.register('messaging', () => Promise.resolve(messaging.health()));

    const grpc = new GrpcServer({ host: config.host, port: config.grpcPort, logger });
    const grpcPort = await grpc.start();
    stops.push(() => grpc.shutdown());

    return {
      logger,
      grpcAddress: `${config.host}:${grpcPort}`,
      opsUrl: telemetry.ops.url,
      store,
      messaging,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
