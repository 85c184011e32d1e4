import { Module } from '@nestjs/common';
import { Messaging, MessagingModule, topics } from '@understudy/messaging';
import { messagingDriver, type ServiceDefinition } from '@understudy/service';
import type { Logger } from '@understudy/telemetry';
import { LOGGER } from '@understudy/telemetry/nest';
import { settings, type CollectorConfig } from './config.js';
import { readTenantKeys, type TenantKeys } from '@understudy/tenancy';
import { OtlpHttpHandler } from './handlers/otlp-http.js';
import { OtlpHttpServer } from './handlers/otlp-http.server.js';

const name = 'collector';
const TENANT_KEYS = Symbol('collector.TenantKeys');

@Module({})
class CollectorModule {}

export const definition: ServiceDefinition<typeof settings> = {
  name,
  version: '0.1.0',
  settings,
  module: (config: CollectorConfig, { logger }, shared) => ({
    module: CollectorModule,
    imports: [
      MessagingModule.forRootAsync({
        useFactory: () => ({
          driver: messagingDriver(config.kafka, name, logger, shared),
          producerName: name,
          topics: [topics.callsCaptured],
          logger,
        }),
      }),
    ],
    providers: [
      { provide: TENANT_KEYS, useFactory: () => readTenantKeys(config.tenantKeysFile) },
      {
        provide: OtlpHttpHandler,
        inject: [Messaging, TENANT_KEYS, LOGGER],
        useFactory: (messaging: Messaging, tenants: TenantKeys, log: Logger) =>
          new OtlpHttpHandler({
            tenants,
            publish: (events) => messaging.publishAll(topics.callsCaptured, events),
            maxBodyBytes: config.maxBodyBytes,
            publishTimeoutMs: config.publishTimeoutMs,
            producer: name,
            logger: log,
          }),
      },
      OtlpHttpServer,
    ],
  }),
};
