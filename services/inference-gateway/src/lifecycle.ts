import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { ClustererService, ModelRegistryService } from '@understudy/contracts';
import type { Client } from '@understudy/grpc';
import { HealthRegistry } from '@understudy/telemetry';
import { Gateway } from './domain/gateway.js';
import { RoutingWatch } from './drivers/routing-watch.js';

export const REGISTRY = Symbol('understudy.gateway.Registry');
export const CLUSTERER = Symbol('understudy.gateway.Clusterer');

/**
 * Follows the routing table from boot; at shutdown abandons shadow copies with intake, then
 * stops the watch and closes the gRPC channels once requests have drained.
 */
@Injectable()
export class GatewayLifecycle
  implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown
{
  constructor(
    @Inject(RoutingWatch) private readonly watch: RoutingWatch,
    @Inject(Gateway) private readonly gateway: Gateway,
    @Inject(REGISTRY) private readonly registry: Client<typeof ModelRegistryService>,
    @Inject(CLUSTERER) private readonly clusterer: Client<typeof ClustererService>,
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
  ) {}

  onApplicationBootstrap(): void {
    this.watch.start();
    // Not a readiness condition: without routes every call goes to the LLM, which is correct,
    // only dearer. Reported so that /readyz shows whether routing is live.
    this.health.register('routing-table', () => {
      const { synced, lastError } = this.watch.state;
      return Promise.resolve({
        healthy: true,
        detail: synced ? 'synced' : `not synced yet${lastError ? `: ${lastError}` : ''}`,
      });
    });
  }

  onModuleDestroy(): void {
    this.gateway.close();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.watch.stop();
    this.registry.close();
    this.clusterer.close();
  }
}
