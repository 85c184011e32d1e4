import { create } from '@bufbuild/protobuf';
import {
  GetModelVersionLineageResponseSchema,
  GetTaskLineageResponseSchema,
  type GetModelVersionLineageResponse,
  type GetTaskLineageResponse,
  type ModelStage,
  type ModelVersion,
  type ModelVersionEvent,
  type Route,
  type WatchRoutingTableResponse,
} from '@understudy/contracts';
import { topics, type Messaging } from '@understudy/messaging';
import type { Logger } from '@understudy/telemetry';
import type { DatasetStore } from '../drivers/datasets.js';
import type { ModelVersionStore } from '../drivers/model-versions.js';
import type { RoutesChange, RoutingStore } from '../drivers/routing.js';
import type { ViewStore } from '../drivers/views.js';
import { promoted, registered, retired, rolledBack, routesChanged } from './events.js';
import type { RevisionNotifier } from './revision-notifier.js';
import { requireFields } from './validation.js';

export interface RegistryStores {
  readonly datasets: DatasetStore;
  readonly modelVersions: ModelVersionStore;
  readonly routing: RoutingStore;
  readonly views: ViewStore;
}

export interface PromoteInput {
  readonly tenantId: string;
  readonly modelVersionId: string;
  readonly target: ModelStage;
  readonly trafficPercent: number;
  readonly etag: string;
  readonly reason: string;
}

export interface WatchOptions {
  readonly tenantId: string;
  readonly fromRevision: bigint;
  readonly signal: AbortSignal;
  /** Watchers end when this turns false (the server is shutting down). */
  readonly serving: () => boolean;
}

/**
 * The registry's operations that span stores and events. State changes commit first, then their
 * events are published; a crash in between loses the events (the transactional outbox that
 * closes this gap comes with the registry's hardening).
 */
export class ModelRegistry {
  constructor(
    private readonly stores: RegistryStores,
    private readonly messaging: Messaging,
    private readonly notifier: RevisionNotifier,
    private readonly pollMs: number,
    private readonly logger: Logger,
  ) {}

  async register(requestId: string, input: ModelVersion): Promise<ModelVersion> {
    const { modelVersion, created } = await this.stores.modelVersions.register(requestId, input);
    if (created) {
      await this.messaging.publish(topics.modelVersions, registered(modelVersion));
      this.logger.info(
        { tenantId: modelVersion.tenantId, modelVersionId: modelVersion.modelVersionId },
        'model version registered',
      );
    }
    return modelVersion;
  }

  async promote(
    input: PromoteInput,
  ): Promise<{ modelVersion: ModelVersion; routes: Route[]; revision: bigint }> {
    const result = await this.stores.modelVersions.promote(input);
    const { modelVersion, from } = result.promoted;
    if (result.routesChange !== undefined) {
      const reason = `replaced by version ${String(modelVersion.version)} (${modelVersion.modelVersionId})`;
      await this.announce(result.routesChange, [
        promoted(modelVersion, from),
        ...result.displaced.map((change) => rolledBack(change.modelVersion, change.from, reason)),
      ]);
      this.logger.info(
        {
          tenantId: input.tenantId,
          modelVersionId: input.modelVersionId,
          from,
          to: modelVersion.stage,
          reason: input.reason,
        },
        'model version promoted',
      );
    }
    return { modelVersion, routes: result.routes.routes, revision: result.routes.revision };
  }

  async retire(
    tenantId: string,
    modelVersionId: string,
    etag: string,
    reason: string,
  ): Promise<ModelVersion> {
    const result = await this.stores.modelVersions.retire(tenantId, modelVersionId, etag);
    const { modelVersion, from } = result.retired;
    if (from !== modelVersion.stage) {
      const event = retired(modelVersion, reason);
      if (result.routesChange === undefined) {
        await this.messaging.publish(topics.modelVersions, event);
      } else {
        await this.announce(result.routesChange, [event]);
      }
    }
    return modelVersion;
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

  /** Wakes local watchers, then tells everyone else. */
  private async announce(
    change: RoutesChange,
    events: readonly ModelVersionEvent[],
  ): Promise<void> {
    this.notifier.announce(change.revision);
    await this.messaging.publishAll(topics.modelVersions, events);
    await this.messaging.publish(
      topics.routes,
      routesChanged(change.tenantId, change.revision, change.routes),
    );
  }
}
