import { randomUUID } from 'node:crypto';
import { create, toJson } from '@bufbuild/protobuf';
import {
  AdapterArtifactSchema,
  FallbackPolicySchema,
  ModelStage,
  ModelVersionSchema,
  ResourceType,
  type ModelVersion,
} from '@understudy/contracts';
import { mapDatabaseError } from '@understudy/database';
import { topics } from '@understudy/messaging';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { digestOf, nextPageToken, offsetOf, pageSizeOf, parseOrderBy } from '../domain/paging.js';
import { planPromotion, stageName, stageOf, type PromotionPlan } from '../domain/stages.js';
import { notFound, requestReused, requireFields } from '../domain/validation.js';
import { promoted, registered, retired, rolledBack, routesChanged } from '../domain/events.js';
import { inChange, type Actor, type ChangeLog } from './changes.js';
import { DatasetRow, ModelVersionRow, RouteRow, TrainingRunRow } from './entities.js';
import { lockTask, nextVersion } from './locks.js';
import { etagOf, jsonOf, modelVersionOf, routeOf } from './mapping.js';
import { recordRoutesChange, type RoutesChange } from './routing.js';

/** What new routes start with; UpdateRoute (later) tunes them per route. */
export interface RouteDefaults {
  /** Serving endpoint when the version has no `endpoint` label. */
  readonly endpoint: string;
  readonly minConfidence: number;
  readonly fallbackToLlm: boolean;
  readonly validateOutput: boolean;
}

/** Label a registrant may set to name the server that serves this version's adapter. */
export const endpointLabel = 'endpoint';

export interface ModelVersionQuery {
  readonly tenantId: string;
  readonly taskId: string;
  readonly stages: readonly ModelStage[];
  readonly pageSize: number;
  readonly pageToken: string;
  readonly orderBy: string;
}

export interface StageChange {
  readonly modelVersion: ModelVersion;
  readonly from: ModelStage;
}

export interface PromotionInput {
  readonly tenantId: string;
  readonly modelVersionId: string;
  readonly target: ModelStage;
  readonly trafficPercent: number;
  readonly etag: string;
  readonly reason: string;
  readonly actor: Actor;
}

export interface RetirementInput {
  readonly tenantId: string;
  readonly modelVersionId: string;
  readonly etag: string;
  readonly reason: string;
  readonly actor: Actor;
}

export interface PromotionResult {
  /** The promoted version, and the stage it left; from equals its stage when nothing changed. */
  readonly promoted: StageChange;
  /** Versions pushed out of their stage, back to REGISTERED. */
  readonly displaced: readonly StageChange[];
  /** Set when the tenant's routes changed. */
  readonly routesChange: RoutesChange | undefined;
  /** The task's routes now, and the revision that holds them. */
  readonly routes: RoutesChange;
}

export interface RetirementResult {
  readonly retired: StageChange;
  readonly routesChange: RoutesChange | undefined;
}

const orderFields = { created_at: 'createdAt', version: 'version', updated_at: 'updatedAt' };

const rethrow = (error: unknown): never => {
  throw mapDatabaseError(error);
};

/** Model versions and their stages; promotions change the task's routes in the same transaction. */
export class ModelVersionStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly routeDefaults: RouteDefaults,
  ) {}

  /** Registers a version at REGISTERED; returns it and whether this call created it. */
  async register(
    requestId: string,
    input: ModelVersion,
    actor: Actor,
  ): Promise<{ modelVersion: ModelVersion; created: boolean }> {
    const { tenantId, taskId, runId, datasetId, baseModel } = input;
    requireFields({
      request_id: requestId,
      tenant_id: tenantId,
      task_id: taskId,
      run_id: runId,
      dataset_id: datasetId,
      base_model: baseModel,
    });
    const digest = digestOf(toJson(ModelVersionSchema, input));
    return inChange(this.dataSource, actor, async (manager, log) => {
      await lockTask(manager, tenantId, taskId);
      const repeated = await manager.findOneBy(ModelVersionRow, { tenantId, requestId });
      if (repeated !== null) {
        if (repeated.requestDigest !== digest) throw requestReused(requestId);
        return { modelVersion: modelVersionOf(repeated), created: false };
      }
      await assertLineage(manager, input);
      const modelVersionId = randomUUID();
      const now = new Date();
      const row: ModelVersionRow = {
        tenantId,
        modelVersionId,
        taskId,
        runId,
        datasetId,
        version: await nextVersion(manager, 'model_version', tenantId, taskId),
        baseModel,
        adapter: jsonOf(AdapterArtifactSchema, input.adapter ?? create(AdapterArtifactSchema)),
        servingName: `understudy-${modelVersionId}`,
        stage: stageName(ModelStage.REGISTERED),
        trafficPercent: 0,
        metrics: { ...input.metrics },
        description: input.description,
        labels: { ...input.labels },
        requestId,
        requestDigest: digest,
        rowVersion: 1,
        createdAt: now,
        updatedAt: now,
      };
      await manager.insert(ModelVersionRow, row);
      const modelVersion = modelVersionOf(row);
      log.event(topics.modelVersions, registered(modelVersion));
      log.audit({
        tenantId,
        action: 'RegisterModelVersion',
        resourceType: ResourceType.MODEL_VERSION,
        resourceId: modelVersionId,
        requestId,
        details: { taskId, runId, datasetId, version: row.version, baseModel },
      });
      return { modelVersion, created: true };
    });
  }

  async get(tenantId: string, modelVersionId: string): Promise<ModelVersion> {
    const found = await this.find(tenantId, modelVersionId);
    if (found === undefined) throw notFound('model version', modelVersionId);
    return found;
  }

  async find(tenantId: string, modelVersionId: string): Promise<ModelVersion | undefined> {
    requireFields({ tenant_id: tenantId, model_version_id: modelVersionId });
    const row = await this.dataSource.manager
      .findOneBy(ModelVersionRow, { tenantId, modelVersionId })
      .catch(rethrow);
    return row === null ? undefined : modelVersionOf(row);
  }

  async list(
    query: ModelVersionQuery,
  ): Promise<{ modelVersions: ModelVersion[]; nextPageToken: string }> {
    requireFields({ tenant_id: query.tenantId });
    const stages = [...new Set(query.stages.map(stageName))].sort();
    const filters = {
      tenantId: query.tenantId,
      taskId: query.taskId,
      stages,
      orderBy: query.orderBy,
    };
    const pageSize = pageSizeOf(query.pageSize);
    const offset = offsetOf(query.pageToken, filters);
    const builder = this.dataSource.manager
      .createQueryBuilder(ModelVersionRow, 'mv')
      .where('mv.tenantId = :tenantId', { tenantId: query.tenantId });
    if (query.taskId !== '') builder.andWhere('mv.taskId = :taskId', { taskId: query.taskId });
    if (stages.length > 0) builder.andWhere('mv.stage IN (:...stages)', { stages });
    for (const { column, descending } of parseOrderBy(
      query.orderBy,
      orderFields,
      'created_at desc',
    )) {
      builder.addOrderBy(`mv.${column}`, descending ? 'DESC' : 'ASC');
    }
    const rows = await builder
      .addOrderBy('mv.modelVersionId', 'ASC')
      .offset(offset)
      .limit(pageSize + 1)
      .getMany()
      .catch(rethrow);
    return {
      modelVersions: rows.slice(0, pageSize).map(modelVersionOf),
      nextPageToken: nextPageToken(offset, pageSize, rows.length, filters),
    };
  }

  /** A task's versions, newest first (for lineage). */
  async ofTask(tenantId: string, taskId: string): Promise<ModelVersion[]> {
    const rows = await this.dataSource.manager
      .find(ModelVersionRow, { where: { tenantId, taskId }, order: { version: 'DESC' } })
      .catch(rethrow);
    return rows.map(modelVersionOf);
  }

  /** Applies the promotion state machine and the task's new routes in one transaction. */
  async promote(input: PromotionInput): Promise<PromotionResult> {
    const { tenantId, modelVersionId } = input;
    return this.changeStage(input, async (manager, log, row) => {
      const taskRoutes = await manager.find(RouteRow, { where: { tenantId, taskId: row.taskId } });
      const plan: PromotionPlan = planPromotion({
        modelVersionId,
        current: { stage: stageOf(row.stage), trafficPercent: row.trafficPercent },
        target: input.target,
        trafficPercent: input.trafficPercent,
        occupants: new Map(taskRoutes.map((route) => [stageOf(route.stage), route.modelVersionId])),
      });
      const from = stageOf(row.stage);
      if (plan.kind === 'unchanged') {
        return {
          promoted: { modelVersion: modelVersionOf(row), from },
          displaced: [],
          routesChange: undefined,
        };
      }
      const displaced: StageChange[] = [];
      for (const id of plan.displaced) {
        const other = await manager.findOneByOrFail(ModelVersionRow, {
          tenantId,
          modelVersionId: id,
        });
        const otherFrom = stageOf(other.stage);
        displaced.push({
          modelVersion: await this.saveStage(manager, other, ModelStage.REGISTERED, 0),
          from: otherFrom,
        });
      }
      await manager.delete(RouteRow, {
        tenantId,
        modelVersionId: In([modelVersionId, ...plan.displaced]),
      });
      const promotedVersion = await this.saveStage(
        manager,
        row,
        plan.to.stage,
        plan.to.trafficPercent,
      );
      await manager.insert(RouteRow, this.routeFor(row, plan.to.stage, plan.to.trafficPercent));
      const routesChange = await recordRoutesChange(manager, tenantId);
      const replaced = `replaced by version ${String(promotedVersion.version)} (${modelVersionId})`;
      log.event(topics.modelVersions, promoted(promotedVersion, from));
      for (const change of displaced) {
        log.event(topics.modelVersions, rolledBack(change.modelVersion, change.from, replaced));
      }
      log.event(topics.routes, routesChanged(tenantId, routesChange.revision, routesChange.routes));
      log.audit({
        tenantId,
        action: 'PromoteModelVersion',
        resourceType: ResourceType.MODEL_VERSION,
        resourceId: modelVersionId,
        reason: input.reason,
        details: {
          stage: { from: stageName(from), to: stageName(plan.to.stage) },
          trafficPercent: plan.to.trafficPercent,
          displaced: displaced.map((change) => change.modelVersion.modelVersionId),
          revision: routesChange.revision.toString(),
        },
      });
      return { promoted: { modelVersion: promotedVersion, from }, displaced, routesChange };
    });
  }

  /** Withdraws a version for good and removes its route; retiring it again changes nothing. */
  async retire(input: RetirementInput): Promise<RetirementResult> {
    const { tenantId, modelVersionId } = input;
    const result = await this.changeStage(input, async (manager, log, row) => {
      const from = stageOf(row.stage);
      if (from === ModelStage.RETIRED) {
        return {
          promoted: { modelVersion: modelVersionOf(row), from },
          displaced: [],
          routesChange: undefined,
        };
      }
      const removed = await manager.delete(RouteRow, { tenantId, modelVersionId });
      const retiredVersion = await this.saveStage(manager, row, ModelStage.RETIRED, 0);
      const routesChange =
        (removed.affected ?? 0) > 0 ? await recordRoutesChange(manager, tenantId) : undefined;
      log.event(topics.modelVersions, retired(retiredVersion, input.reason));
      if (routesChange !== undefined) {
        log.event(
          topics.routes,
          routesChanged(tenantId, routesChange.revision, routesChange.routes),
        );
      }
      log.audit({
        tenantId,
        action: 'RetireModelVersion',
        resourceType: ResourceType.MODEL_VERSION,
        resourceId: modelVersionId,
        reason: input.reason,
        details: { stage: { from: stageName(from), to: stageName(ModelStage.RETIRED) } },
      });
      return { promoted: { modelVersion: retiredVersion, from }, displaced: [], routesChange };
    });
    return { retired: result.promoted, routesChange: result.routesChange };
  }

  /**
   * The frame of every stage change: the task lock first (so concurrent changes of one task's
   * versions queue instead of deadlocking), then the version, its etag check, the change, and
   * the task's routes as they are after it.
   */
  private async changeStage(
    target: { tenantId: string; modelVersionId: string; etag: string; actor: Actor },
    change: (
      manager: EntityManager,
      log: ChangeLog,
      row: ModelVersionRow,
    ) => Promise<Omit<PromotionResult, 'routes'>>,
  ): Promise<PromotionResult> {
    const { tenantId, modelVersionId, etag } = target;
    requireFields({ tenant_id: tenantId, model_version_id: modelVersionId });
    const located = await this.dataSource.manager
      .findOne(ModelVersionRow, { where: { tenantId, modelVersionId }, select: { taskId: true } })
      .catch(rethrow);
    if (located === null) throw notFound('model version', modelVersionId);
    const { taskId } = located;
    return inChange(this.dataSource, target.actor, async (manager, log) => {
      await lockTask(manager, tenantId, taskId);
      const row = await manager.findOneByOrFail(ModelVersionRow, { tenantId, modelVersionId });
      if (etag !== '' && etag !== etagOf(row.rowVersion)) {
        throw new UnderstudyError(
          ErrorCode.Aborted,
          `model version ${modelVersionId} changed since it was read (etag ${etag}, now ${etagOf(row.rowVersion)})`,
          { retryable: false },
        );
      }
      const result = await change(manager, log, row);
      const [head] = await manager.query<{ revision: string }[]>(
        'SELECT revision FROM routing_head WHERE id = 1',
      );
      const routes = await manager.find(RouteRow, { where: { tenantId, taskId } });
      return {
        ...result,
        routes: { tenantId, revision: BigInt(head?.revision ?? '0'), routes: routes.map(routeOf) },
      };
    });
  }

  private async saveStage(
    manager: EntityManager,
    row: ModelVersionRow,
    stage: ModelStage,
    trafficPercent: number,
  ): Promise<ModelVersion> {
    row.stage = stageName(stage);
    row.trafficPercent = trafficPercent;
    row.rowVersion += 1;
    row.updatedAt = new Date();
    await manager.update(
      ModelVersionRow,
      { tenantId: row.tenantId, modelVersionId: row.modelVersionId },
      { stage: row.stage, trafficPercent, rowVersion: row.rowVersion, updatedAt: row.updatedAt },
    );
    return modelVersionOf(row);
  }

  private routeFor(row: ModelVersionRow, stage: ModelStage, trafficPercent: number): RouteRow {
    const defaults = this.routeDefaults;
    return {
      tenantId: row.tenantId,
      routeId: randomUUID(),
      taskId: row.taskId,
      modelVersionId: row.modelVersionId,
      endpoint: row.labels[endpointLabel] ?? defaults.endpoint,
      servingName: row.servingName,
      stage: stageName(stage),
      trafficPercent,
      minConfidence: defaults.minConfidence,
      fallback: jsonOf(
        FallbackPolicySchema,
        create(FallbackPolicySchema, {
          fallbackToLlm: defaults.fallbackToLlm,
          validateOutput: defaults.validateOutput,
        }),
      ),
      rowVersion: 1,
      updatedAt: new Date(),
    };
  }
}

/**
 * The version's lineage must agree with what the registry knows: its dataset and run, where
 * recorded, belong to the same task (the run view may lag behind its events, so an unknown run
 * is accepted).
 */
async function assertLineage(manager: EntityManager, input: ModelVersion): Promise<void> {
  const { tenantId, taskId, runId, datasetId } = input;
  const dataset = await manager.findOneBy(DatasetRow, { tenantId, datasetId });
  if (dataset !== null && dataset.taskId !== taskId) {
    throw new UnderstudyError(
      ErrorCode.FailedPrecondition,
      `dataset ${datasetId} belongs to task ${dataset.taskId}, not ${taskId}`,
    );
  }
  const run = await manager.findOneBy(TrainingRunRow, { tenantId, runId });
  if (
    run !== null &&
    (run.taskId !== taskId || (run.datasetId !== '' && run.datasetId !== datasetId))
  ) {
    throw new UnderstudyError(
      ErrorCode.FailedPrecondition,
      `training run ${runId} trained task ${run.taskId} on dataset ${run.datasetId}, not task ${taskId} on ${datasetId}`,
    );
  }
}
