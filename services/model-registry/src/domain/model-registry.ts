import { create } from '@bufbuild/protobuf';
import {
  GetModelVersionLineageResponseSchema,
  GetTaskLineageResponseSchema,
  type GetModelVersionLineageResponse,
  type GetTaskLineageResponse,
  type ModelVersion,
  type Route,
  type WatchRoutingTableResponse,
} from '@understudy/contracts';
import type { Logger } from '@understudy/telemetry';
import type { DatasetStore } from '../drivers/datasets.js';
import type { Actor } from '../drivers/changes.js';
import type {
  ModelVersionStore,
  PromotionInput,
  RetirementInput,
} from '../drivers/model-versions.js';
import type { RoutingStore } from '../drivers/routing.js';
import type { ViewStore } from '../drivers/views.js';
import type { RevisionNotifier } from './revision-notifier.js';
import { requireFields } from './validation.js';

export interface RegistryStores {
  readonly datasets: DatasetStore;
  readonly modelVersions: ModelVersionStore;
  readonly routing: RoutingStore;
  readonly views: ViewStore;
}

export interface WatchOptions {
  readonly tenantId: string;
  readonly fromRevision: bigint;
  readonly signal: AbortSignal;
  /** Watchers end when this turns false (the server is shutting down). */
  readonly serving: () => boolean;
}

/**
 * The registry's operations that span stores. Every state change commits with its events and
 * audit entries (see drivers/changes.ts); the outbox relay publishes them after commit.
 */
export class ModelRegistry {
  constructor(
    private readonly stores: RegistryStores,
    private readonly notifier: RevisionNotifier,
    private readonly pollMs: number,
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

  async promote(
    input: PromotionInput,
  ): Promise<{ modelVersion: ModelVersion; routes: Route[]; revision: bigint }> {
    const result = await this.stores.modelVersions.promote(input);
    const { modelVersion, from } = result.promoted;
    if (result.routesChange !== undefined) {
      this.notifier.announce(result.routesChange.revision);
      this.logger.info(
        {
          tenantId: input.tenantId,
          modelVersionId: input.modelVersionId,
          from,
          to: modelVersion.stage,
          reason: input.reason,
          actor: input.actor,
        },
        'model version promoted',
      );
    }
    return { modelVersion, routes: result.routes.routes, revision: result.routes.revision };
  }

  async retire(input: RetirementInput): Promise<ModelVersion> {
    const result = await this.stores.modelVersions.retire(input);
    if (result.routesChange !== undefined) this.notifier.announce(result.routesChange.revision);
    return result.retired.modelVersion;
  }

  /** The routing table as a stream: a snapshot unless resumable, then each change in order. */
  async *watch(options: WatchOptions): AsyncGenerator<WatchRoutingTableResponse> {
    const { tenantId, signal } = options;
    let last = options.fromRevision;
    if (last <= 0n || !(await this.stores.routing.retainsChangesAfter(last))) {
      const snapshot = await this.stores.routing.snapshot(tenantId);
      last = snapshot.revision;
      yield {
        $typeName: 'understudy.v1.WatchRoutingTableResponse',
        kind: { case: 'snapshot', value: snapshot },
      };
    }
    let observed = last;
    while (!signal.aborted && options.serving()) {
      // Read before querying: an announcement during the query makes the wait return at once.
      const announced = this.notifier.latest;
      const changes = await this.stores.routing.changesAfter(last, tenantId);
      for (const change of changes) {
        last = change.revision;
        yield {
          $typeName: 'understudy.v1.WatchRoutingTableResponse',
          kind: { case: 'change', value: change },
        };
      }
      if (changes.length > 0) continue;
      // Changes of other tenants move the table on without concerning this watcher.
      observed = [observed, announced, last].reduce((a, b) => (a > b ? a : b));
      await this.notifier.changedAfter(observed, this.pollMs, signal);
    }
  }

  async modelVersionLineage(
    tenantId: string,
    modelVersionId: string,
  ): Promise<GetModelVersionLineageResponse> {
    const modelVersion = await this.stores.modelVersions.get(tenantId, modelVersionId);
    const [trainingRun, dataset, task] = await Promise.all([
      this.stores.views.findRun(tenantId, modelVersion.runId),
      this.stores.datasets.find(tenantId, modelVersion.datasetId),
      this.stores.views.findTask(tenantId, modelVersion.taskId),
    ]);
    return create(GetModelVersionLineageResponseSchema, {
      modelVersion,
      ...(trainingRun && { trainingRun }),
      ...(dataset && { dataset }),
      ...(task && { task }),
      ...(dataset?.sourceWindow && { sourceWindow: dataset.sourceWindow }),
    });
  }

  async taskLineage(tenantId: string, taskId: string): Promise<GetTaskLineageResponse> {
    requireFields({ tenant_id: tenantId, task_id: taskId });
    const [task, datasets, trainingRuns, modelVersions, routes] = await Promise.all([
      this.stores.views.findTask(tenantId, taskId),
      this.stores.datasets.ofTask(tenantId, taskId),
      this.stores.views.runsOfTask(tenantId, taskId),
      this.stores.modelVersions.ofTask(tenantId, taskId),
      this.stores.routing.ofTask(tenantId, taskId),
    ]);
    return create(GetTaskLineageResponseSchema, {
      ...(task && { task }),
      datasets,
      trainingRuns,
      modelVersions,
      routes,
    });
  }
}
