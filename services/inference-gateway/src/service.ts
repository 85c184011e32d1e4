import { Module } from '@nestjs/common';
import { ClustererService, ModelRegistryService } from '@understudy/contracts';
import { createClient, type Client } from '@understudy/grpc';
import { grpcClientOptions, type ServiceDefinition } from '@understudy/service';
import { settings } from './config.js';
import { Gateway } from './domain/gateway.js';
import { RoutingTableView } from './domain/routing-table.js';
import { readTenantKeys, TenantKeys } from '@understudy/tenancy';
import { RoutingWatch } from './drivers/routing-watch.js';
import { FetchUpstream } from './drivers/upstream.js';
import { GatewayHttpServer } from './handlers/http-server.js';
import { CLUSTERER, GatewayLifecycle, REGISTRY } from './lifecycle.js';

const name = 'inference-gateway';

@Module({})
export class InferenceGatewayModule {}

export const definition: ServiceDefinition<typeof settings> = {
  name,
  version: '0.1.0',
  settings,
  module: (config, telemetry) => {
    const { logger } = telemetry;
    return {
      module: InferenceGatewayModule,
      providers: [
        {
          provide: TenantKeys,
          useFactory: () => readTenantKeys(config.tenantKeysFile),
        },
        { provide: RoutingTableView, useValue: new RoutingTableView() },
        {
          provide: REGISTRY,
          useFactory: async () =>
            createClient(
              ModelRegistryService,
              config.registry.address,
              await grpcClientOptions(settings.registry, config.registry),
            ),
        },
        {
          provide: CLUSTERER,
          useFactory: () => createClient(ClustererService, config.clustererAddress),
        },
        {
          provide: RoutingWatch,
          inject: [REGISTRY, RoutingTableView],
          useFactory: (registry: Client<typeof ModelRegistryService>, view: RoutingTableView) =>
            new RoutingWatch(registry, view, { logger }),
        },
        {
          provide: Gateway,
          inject: [CLUSTERER, RoutingTableView],
          useFactory: (clusterer: Client<typeof ClustererService>, view: RoutingTableView) =>
            new Gateway(clusterer, view, new FetchUpstream(), {
              llm: {
                baseUrl: config.llm.baseUrl,
                provider: config.llm.provider,
                timeoutMs: config.llm.timeoutMs,
                ...(config.llm.apiKey !== undefined && { apiKey: config.llm.apiKey }),
              },
              slmTimeoutMs: config.slmTimeoutMs,
              classifyTimeoutMs: config.classifyTimeoutMs,
              shadowConcurrency: config.shadowConcurrency,
              logger,
            }),
        },
        GatewayLifecycle,
        GatewayHttpServer,
      ],
    };
  },
};
