import type {
  ModelVersion,
  PromoteModelVersionResponse,
  RollbackRouteResponse,
  UpdateRouteResponse,
} from '@understudy/contracts';
import type { Logger } from '@understudy/telemetry';
import type { DatasetStore } from '../drivers/datasets.js';
import type { Actor } from '../drivers/changes.js';
import type { ModelVersionStore } from '../drivers/model-versions.js';
import type {
  Changed,
  PromotionInput,
  PromotionStore,
  RetirementInput,
  RollbackInput,
  RouteUpdate,
} from '../drivers/promotions.js';
import type { RoutingStore } from '../drivers/routing.js';
import type { ViewStore } from '../drivers/views.js';
import type { RevisionNotifier } from './revision-notifier.js';

export interface RegistryStores {
  readonly datasets: DatasetStore;
  readonly modelVersions: ModelVersionStore;
  readonly promotions: PromotionStore;
  readonly routing: RoutingStore;
  readonly views: ViewStore;
}

/**
 * The registry's operations that span stores. Every state change commits with its events and
 * audit entries (see drivers/changes.ts); the outbox relay publishes them after commit.
 */
export class ModelRegistry {
  constructor(
    private readonly stores: RegistryStores,
    private readonly notifier: RevisionNotifier,
    private readonly logger: Logger,
  ) {}

  async register(requestId: string, input: ModelVersion, actor: Actor): Promise<ModelVersion> {
    const { modelVersion, created } = await this.stores.modelVersions.register(
      requestId,
      input,
      actor,
    );
    if (created) {
      this.logger.info(
        { tenantId: modelVersion.tenantId, modelVersionId: modelVersion.modelVersionId, actor },
        'model version registered',
      );
    }
    return modelVersion;
  }

  async promote(input: PromotionInput): Promise<PromoteModelVersionResponse> {
    const { response, revision } = await this.announced(this.stores.promotions.promote(input));
    if (revision !== undefined) {
      this.logger.info(
        {
          tenantId: input.tenantId,
          modelVersionId: input.modelVersionId,
          stage: response.modelVersion?.stage,
          trafficPercent: response.modelVersion?.trafficPercent,
          revision: revision.toString(),
          reason: input.reason,
          actor: input.actor,
        },
        'model version promoted',
      );
    }
    return response;
  }

  async retire(input: RetirementInput): Promise<ModelVersion> {
    return (await this.announced(this.stores.promotions.retire(input))).response;
  }

  async rollback(input: RollbackInput): Promise<RollbackRouteResponse> {
    const { response, revision } = await this.announced(this.stores.promotions.rollback(input));
    if (revision !== undefined) {
      this.logger.info(
        {
          tenantId: input.tenantId,
          taskId: input.taskId,
          revision: revision.toString(),
          reason: input.reason,
          actor: input.actor,
        },
        'task routes rolled back',
      );
    }
    return response;
  }

  async updateRoute(input: RouteUpdate): Promise<UpdateRouteResponse> {
    return (await this.announced(this.stores.promotions.updateRoute(input))).response;
  }

  /** Wakes this process's routing watchers as soon as a change made here has committed. */
  private async announced<Response>(
    change: Promise<Changed<Response>>,
  ): Promise<Changed<Response>> {
    const changed = await change;
    if (changed.revision !== undefined) this.notifier.announce(changed.revision);
    return changed;
  }
}
