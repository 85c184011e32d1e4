import { readFile } from 'node:fs/promises';
import {
  Inject,
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { CallArchiver } from '@understudy/call-archive';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { Messaging, MessagingModule, topics, type MessagingDriver } from '@understudy/messaging';
import { messagingDriver, objectStore, type ServiceDefinition } from '@understudy/service';
import type { ObjectStore } from '@understudy/storage';
import { HealthRegistry, type Logger } from '@understudy/telemetry';
import { LOGGER } from '@understudy/telemetry/nest';
import { readContentKeys, readTenantKeys, type TenantKeys } from '@understudy/tenancy';
import { settings, type CollectorConfig } from './config.js';
import { contentGuard } from './domain/guard.js';
import type { Ingest } from './domain/ingest.js';
import { createRedactor, parseRedactionRules } from './domain/redaction/index.js';
import { OtlpEdge } from './edge/otlp-edge.js';
import { FragmentIngest } from './handlers/fragment-ingest.js';
import { Joiner } from './handlers/joiner.js';
import { OtlpGrpcHandler } from './handlers/otlp-grpc.js';
import { OtlpGrpcServer } from './handlers/otlp-grpc.server.js';
import { OtlpHttpHandler } from './handlers/otlp-http.js';
import { OtlpHttpServer } from './handlers/otlp-http.server.js';

const name = 'collector';
const TENANT_KEYS = Symbol('collector.TenantKeys');
const OBJECT_STORE = Symbol('collector.ObjectStore');
const DRIVER = Symbol('collector.MessagingDriver');
const GUARD = Symbol('collector.ContentGuard');
const INGEST = Symbol('collector.Ingest');

async function readRules(file: string | undefined) {
  if (file === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, `cannot read redaction rules ${file}`, {
      cause: error,
    });
  }
  return parseRedactionRules(json);
}

async function guardOf(config: CollectorConfig) {
  const rules = await readRules(config.redaction.rulesFile);
  const redactor = createRedactor({
    secret: Buffer.from(config.redaction.secret, 'utf8'),
    ...(rules && { rules }),
  });
  const keyring =
    config.contentKeysFile === undefined
      ? undefined
      : await readContentKeys(config.contentKeysFile);
  return contentGuard({ redactor, ...(keyring && { keyring }) });
}

/**
 * The joiner and the archive beside the edge: readiness checks, started once the app is up,
 * stopped (their last offsets committed) before the producer disconnects.
 */
@Injectable()
class Background implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(Joiner) private readonly joiner: Joiner,
    @Inject(CallArchiver) private readonly archiver: CallArchiver,
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
  ) {}

  onModuleInit(): void {
    const consumer = (connected: boolean, detail: string) =>
      Promise.resolve(connected ? { healthy: true } : { healthy: false, detail });
    this.health.register('joiner', () =>
      consumer(this.joiner.connected, 'joiner consumer not in its group'),
    );
    this.health.register('call-archive', () =>
      consumer(this.archiver.health().connected, 'archive consumer not in its group'),
    );
    this.health.register('object-store', async () => {
      await this.store.exists('blobs/.readiness');
      return { healthy: true };
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.joiner.start();
    await this.archiver.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.joiner.stop(), this.archiver.stop()]);
  }
}

@Module({})
class CollectorModule {}

export const definition: ServiceDefinition<typeof settings> = {
  name,
  version: '0.1.0',
  settings,
  module: (config: CollectorConfig, { logger }, shared) => {
    // One driver for the publisher and the consumers: they share the broker connection setup.
    const driver: MessagingDriver = messagingDriver(config.kafka, name, logger, shared);
    return {
      module: CollectorModule,
      imports: [
        MessagingModule.forRootAsync({
          useFactory: () => ({
            driver,
            producerName: name,
            topics: [topics.captureFragments, topics.callsCaptured],
            logger,
          }),
        }),
      ],
      providers: [
        { provide: DRIVER, useValue: driver },
        { provide: TENANT_KEYS, useFactory: () => readTenantKeys(config.tenantKeysFile) },
        {
          provide: OBJECT_STORE,
          useFactory: async () => {
            const store = objectStore(config.s3, logger, shared);
            await store.init();
            return store;
          },
        },
        { provide: GUARD, useFactory: () => guardOf(config) },
        {
          provide: INGEST,
          inject: [Messaging, GUARD, OBJECT_STORE],
          useFactory: (
            messaging: Messaging,
            guard: Awaited<ReturnType<typeof guardOf>>,
            store: ObjectStore,
          ): Ingest =>
            new FragmentIngest({
              publish: (fragments) => messaging.publishAll(topics.captureFragments, fragments),
              guard,
              store,
              bucket: config.s3.bucket,
              producer: name,
            }),
        },
        {
          provide: Joiner,
          inject: [Messaging, GUARD, DRIVER, LOGGER],
          useFactory: (
            messaging: Messaging,
            guard: Awaited<ReturnType<typeof guardOf>>,
            messagingDriverInUse: MessagingDriver,
            log: Logger,
          ) =>
            new Joiner({
              driver: messagingDriverInUse,
              publishCalls: (events) => messaging.publishAll(topics.callsCaptured, events),
              publishFragments: (fragments) =>
                messaging.publishAll(topics.captureFragments, fragments),
              seal: guard,
              settings: {
                joinTimeoutMs: config.join.timeoutMs,
                dedupWindowMs: config.join.dedupWindowMs,
                maxHeldBytes: config.join.maxHeldBytes,
                settleMs: Math.min(1_000, config.join.timeoutMs),
              },
              tickMs: config.join.tickMs,
              producer: name,
              logger: log.child({ component: 'joiner' }),
            }),
        },
        {
          provide: CallArchiver,
          inject: [OBJECT_STORE, DRIVER, LOGGER],
          useFactory: (store: ObjectStore, messagingDriverInUse: MessagingDriver, log: Logger) =>
            new CallArchiver({
              driver: messagingDriverInUse,
              store,
              settings: config.archive,
              logger: log.child({ component: 'call-archive' }),
            }),
        },
        {
          provide: OtlpEdge,
          inject: [INGEST, TENANT_KEYS],
          useFactory: (ingest: Ingest, tenants: TenantKeys) =>
            new OtlpEdge({
              tenants,
              ingest,
              limits: { ...config.tenantRate, maxBodyBytes: config.maxBodyBytes },
              maxInFlightBytes: config.maxInFlightBytes,
              ingestTimeoutMs: config.publishTimeoutMs,
            }),
        },
        {
          provide: OtlpHttpHandler,
          inject: [OtlpEdge, LOGGER],
          useFactory: (edge: OtlpEdge, log: Logger) => new OtlpHttpHandler(edge, log),
        },
        {
          provide: OtlpGrpcHandler,
          inject: [OtlpEdge],
          useFactory: (edge: OtlpEdge) => new OtlpGrpcHandler(edge),
        },
        Background,
        OtlpHttpServer,
        OtlpGrpcServer,
      ],
    };
  },
};
