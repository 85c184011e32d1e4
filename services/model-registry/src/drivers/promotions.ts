import { randomUUID } from 'node:crypto';
import { create, toJson, type JsonValue } from '@bufbuild/protobuf';
import {
  FallbackPolicySchema,
  ModelStage,
  PromoteModelVersionResponseSchema,
  ResourceType,
  RollbackRouteResponseSchema,
  UpdateRouteResponseSchema,
  type GuardResult,
  type ModelVersion,
  type PromoteModelVersionResponse,
  type RollbackRouteResponse,
  type Route,
  type UpdateRouteResponse,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { topics } from '@understudy/messaging';
import type { DataSource, EntityManager } from 'typeorm';
import { promoted, retired, rolledBack, routesChanged } from '../domain/events.js';
import { enforceGuards } from '../domain/guards.js';
import {
  planPromotion,
  planRollback,
  stageName,
  stageOf,
  type FormerProduction,
} from '../domain/stages.js';
import { notFound, requireFields } from '../domain/validation.js';
import { inChange, type Actor, type ChangeLog } from './changes.js';
import { ModelVersionRow, ProductionPeriodRow, RouteRow, type RetainedRoute } from './entities.js';
import { guardResults } from './guarding.js';
import { assertEtag, saveModelVersion } from './model-versions.js';
import { lockModelVersion, lockTask } from './locks.js';
import { etagOf, jsonOf, modelVersionOf, routeOf } from './mapping.js';
import { loggedRequest, remember, replayed } from './request-log.js';
import {
  assertTaskRevision,
  currentRoutes,
  recordTaskRoutesChange,
  validateEndpoint,
} from './routes.js';
import type { RoutesChange } from './routing.js';

/** What new routes start with; UpdateRoute tunes them per route. */
export interface RouteDefaults {
  /** Serving endpoint when the version has no `endpoint` label. */
  readonly endpoint: string;
  readonly minConfidence: number;
  readonly fallbackToLlm: boolean;
  readonly validateOutput: boolean;
}

/** Label a registrant may set to name the server that serves this version's adapter. */
export const endpointLabel = 'endpoint';

export interface PromotionInput {
  readonly requestId: string;
  readonly tenantId: string;
  readonly modelVersionId: string;
  readonly target: ModelStage;
  readonly trafficPercent: number;
  /** The version's etag as read; empty skips the check. */
  readonly etag: string;
  readonly reason: string;
  /** The routing table revision the caller decided on; 0 skips the check. */
  readonly expectedRevision: bigint;
  /** Checks the move and its guards, and changes nothing. */
  readonly validateOnly: boolean;
  readonly actor: Actor;
}

export interface RetirementInput {
  readonly tenantId: string;
  readonly modelVersionId: string;
  readonly etag: string;
  readonly reason: string;
  readonly actor: Actor;
}

export interface RollbackInput {
  readonly requestId: string;
  readonly tenantId: string;
  readonly taskId: string;
  readonly reason: string;
  /** The routing table revision the caller decided on; 0 skips the check. */
  readonly expectedRevision: bigint;
  readonly actor: Actor;
}

export interface RouteUpdate {
  /** Identified by tenant_id and route_id; etag as read, empty skips the check. */
  readonly route: Route;
  readonly updateMask: readonly string[];
  readonly actor: Actor;
}

/** What a change answered, and the routing table revision it made (for watchers to hear of). */
export interface Changed<Response> {
  readonly response: Response;
  /** Undefined when the routes did not change, a repeated request included. */
  readonly revision: bigint | undefined;
}

/** A former production version, as the production history leads back to it. */
interface FormerPeriod extends FormerProduction {
  /** Where a rollback that restores it continues from next time. */
  readonly previousId: string | null;
  readonly route: RetainedRoute | null;
}

/** How far back a rollback looks for a former production version that can serve. */
const maxRollbackDepth = 100;

const routeFields = ['traffic_percent', 'min_confidence', 'fallback', 'endpoint'] as const;
type RouteField = (typeof routeFields)[number];

/**
 * Every change of who serves a task and how: promotions (guarded by the promotion policy),
 * retirements, rollbacks and route tuning. Each runs under the task lock, in one transaction
 * with its routing table revision, its events and its audit entry. Concurrent changes of a task
 * therefore apply one after the other; callers who must not overwrite each other's decision
 * pass the revision they decided on (expected_revision), and the later one is ABORTED.
 */
export class PromotionStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly routeDefaults: RouteDefaults,
  ) {}

  async promote(input: PromotionInput): Promise<Changed<PromoteModelVersionResponse>> {
    const { requestId, tenantId, modelVersionId, target, actor } = input;
    requireFields({
      tenant_id: tenantId,
      model_version_id: modelVersionId,
      ...(!input.validateOnly && { request_id: requestId }),
    });
    const request = loggedRequest('PromoteModelVersion', input);
    return inChange(this.dataSource, actor, async (manager, log) => {
      const row = await lockModelVersion(manager, tenantId, modelVersionId);
      if (!input.validateOnly) {
        const earlier = await replayed(manager, request, PromoteModelVersionResponseSchema);
        if (earlier !== undefined) return { response: earlier, revision: undefined };
      }
      assertEtag(row, input.etag);
      const { taskId } = row;
      await assertTaskRevision(manager, tenantId, taskId, input.expectedRevision);
      const taskRoutes = await manager.find(RouteRow, { where: { tenantId, taskId } });
      const from = stageOf(row.stage);
      const plan = planPromotion({
        modelVersionId,
        current: { stage: from, trafficPercent: row.trafficPercent },
        target,
        trafficPercent: input.trafficPercent,
        occupants: new Map(taskRoutes.map((route) => [stageOf(route.stage), route.modelVersionId])),
      });
      const checked =
        plan.kind === 'move' || input.validateOnly
          ? await guardResults(manager, row, target, actor)
          : [];
      if (input.validateOnly || plan.kind === 'unchanged') {
        const response = await promotionResponse(manager, modelVersionOf(row), checked);
        if (!input.validateOnly) {
          await remember(manager, request, PromoteModelVersionResponseSchema, response);
        }
        return { response, revision: undefined };
      }
      enforceGuards(checked);

      const production = plan.to.stage === ModelStage.PRODUCTION;
      const period = production ? await openPeriod(manager, tenantId, taskId) : null;
      const displaced: { modelVersion: ModelVersion; from: ModelStage }[] = [];
      for (const id of plan.displaced) {
        const other = await manager.findOneByOrFail(ModelVersionRow, {
          tenantId,
          modelVersionId: id,
        });
        await manager.delete(RouteRow, { tenantId, modelVersionId: id });
        displaced.push({
          from: stageOf(other.stage),
          modelVersion: await saveStage(manager, other, ModelStage.REGISTERED, 0),
        });
      }
      // The version keeps its route (its id, which sticky canary buckets hash, and its tuned
      // settings) from stage to stage.
      const own = taskRoutes.find((route) => route.modelVersionId === modelVersionId);
      if (own === undefined) {
        await manager.insert(RouteRow, this.newRoute(row, plan.to.stage, plan.to.trafficPercent));
      } else {
        await manager.update(
          RouteRow,
          { tenantId, routeId: own.routeId },
          {
            stage: stageName(plan.to.stage),
            trafficPercent: plan.to.trafficPercent,
            rowVersion: own.rowVersion + 1,
            updatedAt: new Date(),
          },
        );
      }
      const modelVersion = await saveStage(manager, row, plan.to.stage, plan.to.trafficPercent);
      const change = await recordTaskRoutesChange(manager, tenantId, taskId);
      if (production) {
        if (period !== null) {
          const replaced = taskRoutes.find(
            (route) => route.modelVersionId === period.modelVersionId,
          );
          await endPeriod(manager, period, 'replaced', change.revision, replaced);
        }
        await startPeriod(manager, row, period?.id ?? null, change.revision);
      }

      const replacedBy = `replaced by version ${String(modelVersion.version)} (${modelVersionId})`;
      log.event(topics.modelVersions, promoted(modelVersion, from));
      for (const other of displaced) {
        log.event(topics.modelVersions, rolledBack(other.modelVersion, other.from, replacedBy));
      }
      announceRoutes(log, change);
      log.audit({
        tenantId,
        action: 'PromoteModelVersion',
        resourceType: ResourceType.MODEL_VERSION,
        resourceId: modelVersionId,
        requestId,
        reason: input.reason,
        details: {
          stage: { from: stageName(from), to: stageName(plan.to.stage) },
          trafficPercent: plan.to.trafficPercent,
          displaced: displaced.map((other) => other.modelVersion.modelVersionId),
          guards: checked.map((result) => result.guard),
          revision: change.revision.toString(),
        },
      });
      const response = await promotionResponse(manager, modelVersion, checked);
      await remember(manager, request, PromoteModelVersionResponseSchema, response);
      return { response, revision: change.revision };
    });
  }

  /** Withdraws a version for good and removes its route; retiring it again changes nothing. */
  async retire(input: RetirementInput): Promise<Changed<ModelVersion>> {
    const { tenantId, modelVersionId } = input;
    requireFields({ tenant_id: tenantId, model_version_id: modelVersionId });
    return inChange(this.dataSource, input.actor, async (manager, log) => {
      const row = await lockModelVersion(manager, tenantId, modelVersionId);
      assertEtag(row, input.etag);
      const from = stageOf(row.stage);
      if (from === ModelStage.RETIRED) {
        return { response: modelVersionOf(row), revision: undefined };
      }
      const route = await manager.findOneBy(RouteRow, { tenantId, modelVersionId });
      if (route !== null) await manager.delete(RouteRow, { tenantId, routeId: route.routeId });
      const modelVersion = await saveStage(manager, row, ModelStage.RETIRED, 0);
      const change =
        route === null ? undefined : await recordTaskRoutesChange(manager, tenantId, row.taskId);
      log.event(topics.modelVersions, retired(modelVersion, input.reason));
      if (change !== undefined) {
        const period = await openPeriod(manager, tenantId, row.taskId);
        if (period?.modelVersionId === modelVersionId) {
          await endPeriod(manager, period, 'retired', change.revision, route ?? undefined);
        }
        announceRoutes(log, change);
      }
      log.audit({
        tenantId,
        action: 'RetireModelVersion',
        resourceType: ResourceType.MODEL_VERSION,
        resourceId: modelVersionId,
        reason: input.reason,
        details: {
          stage: { from: stageName(from), to: stageName(ModelStage.RETIRED) },
          ...(change && { revision: change.revision.toString() }),
        },
      });
      return { response: modelVersion, revision: change?.revision };
    });
  }

  /**
   * Undoes the task's last promotion (see planRollback). Guards do not apply: a rollback returns
   * to a state that was trusted before.
   */
  async rollback(input: RollbackInput): Promise<Changed<RollbackRouteResponse>> {
    const { requestId, tenantId, taskId, reason } = input;
    requireFields({ request_id: requestId, tenant_id: tenantId, task_id: taskId });
    const request = loggedRequest('RollbackRoute', input);
    return inChange(this.dataSource, input.actor, async (manager, log) => {
      await lockTask(manager, tenantId, taskId);
      const earlier = await replayed(manager, request, RollbackRouteResponseSchema);
      if (earlier !== undefined) return { response: earlier, revision: undefined };
      await assertTaskRevision(manager, tenantId, taskId, input.expectedRevision);
      const taskRoutes = await manager.find(RouteRow, { where: { tenantId, taskId } });
      const period = await openPeriod(manager, tenantId, taskId);
      const plan = planRollback({
        occupants: new Map(taskRoutes.map((route) => [stageOf(route.stage), route.modelVersionId])),
        formerProduction: period === null ? [] : await formerProduction(manager, period),
      });
      const withdrawnId = plan.kind === 'withdraw' ? plan.modelVersionId : plan.withdrawn;
      const withdrawnRoute = taskRoutes.find((route) => route.modelVersionId === withdrawnId);
      const withdrawnRow = await manager.findOneByOrFail(ModelVersionRow, {
        tenantId,
        modelVersionId: withdrawnId,
      });
      const from = stageOf(withdrawnRow.stage);
      await manager.delete(RouteRow, { tenantId, modelVersionId: withdrawnId });
      const withdrawn = await saveStage(manager, withdrawnRow, ModelStage.REGISTERED, 0);
      const restored = plan.kind === 'restore' ? plan.restored : undefined;
      let restoredVersion: ModelVersion | undefined;
      if (restored !== undefined) {
        const restoredRow = await manager.findOneByOrFail(ModelVersionRow, {
          tenantId,
          modelVersionId: restored.modelVersionId,
        });
        await manager.insert(RouteRow, this.restoredRoute(restoredRow, restored.route));
        restoredVersion = await saveStage(manager, restoredRow, ModelStage.PRODUCTION, 100);
      }
      const change = await recordTaskRoutesChange(manager, tenantId, taskId);
      if (plan.kind === 'restore' && period !== null) {
        await endPeriod(manager, period, 'rolled_back', change.revision, withdrawnRoute);
        if (restored !== undefined) {
          const version = { tenantId, taskId, modelVersionId: restored.modelVersionId };
          await startPeriod(manager, version, restored.previousId, change.revision);
        }
      }

      log.event(topics.modelVersions, rolledBack(withdrawn, from, reason));
      if (restoredVersion !== undefined) {
        log.event(topics.modelVersions, promoted(restoredVersion, ModelStage.REGISTERED));
      }
      announceRoutes(log, change);
      log.audit({
        tenantId,
        action: 'RollbackRoute',
        resourceType: ResourceType.MODEL_VERSION,
        resourceId: withdrawnId,
        requestId,
        reason,
        details: {
          taskId,
          stage: { from: stageName(from), to: stageName(ModelStage.REGISTERED) },
          restored: restoredVersion?.modelVersionId ?? null,
          revision: change.revision.toString(),
        },
      });
      const { routes, revision } = await currentRoutes(manager, tenantId, taskId);
      const response = create(RollbackRouteResponseSchema, { routes, revision });
      await remember(manager, request, RollbackRouteResponseSchema, response);
      return { response, revision: change.revision };
    });
  }

  /**
   * Tunes a route. A new traffic share is a promotion within the route's stage: the version
   * follows, and the promotion policy's guards for that stage apply.
   */
  async updateRoute(input: RouteUpdate): Promise<Changed<UpdateRouteResponse>> {
    const { route, actor } = input;
    const { tenantId, routeId } = route;
    requireFields({ tenant_id: tenantId, route_id: routeId });
    const fields = routeFieldsOf(input.updateMask);
    if (fields.has('endpoint')) validateEndpoint(route.endpoint);
    if (fields.has('min_confidence') && !(route.minConfidence >= 0 && route.minConfidence <= 1)) {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'min_confidence must be in [0, 1]');
    }
    const timeout = route.fallback?.timeout;
    if (fields.has('fallback') && timeout && (timeout.seconds < 0n || timeout.nanos < 0)) {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'fallback.timeout must not be negative');
    }
    return inChange(this.dataSource, actor, async (manager, log) => {
      const located = await manager.findOne(RouteRow, {
        where: { tenantId, routeId },
        select: { taskId: true },
      });
      if (located === null) throw notFound('route', routeId);
      await lockTask(manager, tenantId, located.taskId);
      const row = await manager.findOneBy(RouteRow, { tenantId, routeId });
      if (row === null) throw notFound('route', routeId);
      if (route.etag !== '' && route.etag !== etagOf(row.rowVersion)) {
        throw new UnderstudyError(
          ErrorCode.Aborted,
          `route ${routeId} changed since it was read (etag ${route.etag}, now ${etagOf(row.rowVersion)})`,
          { retryable: false },
        );
      }
      const before = tunables(routeOf(row));
      const wanted = tunables(route);
      const changed = [...fields].filter(
        (field) => JSON.stringify(before[field]) !== JSON.stringify(wanted[field]),
      );
      if (changed.length === 0) {
        const { revision } = await currentRoutes(manager, tenantId, row.taskId);
        return {
          response: create(UpdateRouteResponseSchema, { route: routeOf(row), revision }),
          revision: undefined,
        };
      }
      if (changed.includes('traffic_percent')) {
        const stage = stageOf(row.stage);
        if (stage === ModelStage.PRODUCTION) {
          throw new UnderstudyError(
            ErrorCode.FailedPrecondition,
            'a production route answers what the canaries leave; its traffic_percent stays 100',
          );
        }
        const plan = planPromotion({
          modelVersionId: row.modelVersionId,
          current: { stage, trafficPercent: row.trafficPercent },
          target: stage,
          trafficPercent: route.trafficPercent,
          occupants: new Map([[stage, row.modelVersionId]]),
        });
        if (plan.kind === 'move') {
          const version = await manager.findOneByOrFail(ModelVersionRow, {
            tenantId,
            modelVersionId: row.modelVersionId,
          });
          enforceGuards(await guardResults(manager, version, stage, actor));
          row.trafficPercent = plan.to.trafficPercent;
          const moved = await saveStage(manager, version, stage, row.trafficPercent);
          log.event(topics.modelVersions, promoted(moved, stage));
        }
      }
      if (changed.includes('endpoint')) row.endpoint = route.endpoint;
      if (changed.includes('min_confidence')) row.minConfidence = route.minConfidence;
      if (changed.includes('fallback')) {
        row.fallback = jsonOf(FallbackPolicySchema, route.fallback ?? create(FallbackPolicySchema));
      }
      row.rowVersion += 1;
      row.updatedAt = new Date();
      await manager.update(
        RouteRow,
        { tenantId, routeId },
        {
          trafficPercent: row.trafficPercent,
          endpoint: row.endpoint,
          minConfidence: row.minConfidence,
          fallback: row.fallback,
          rowVersion: row.rowVersion,
          updatedAt: row.updatedAt,
        },
      );
      const change = await recordTaskRoutesChange(manager, tenantId, row.taskId);
      announceRoutes(log, change);
      log.audit({
        tenantId,
        action: 'UpdateRoute',
        resourceType: ResourceType.ROUTE,
        resourceId: routeId,
        details: {
          taskId: row.taskId,
          modelVersionId: row.modelVersionId,
          ...Object.fromEntries(
            changed.map((field) => [field, { from: before[field], to: wanted[field] }]),
          ),
          revision: change.revision.toString(),
        },
      });
      return {
        response: create(UpdateRouteResponseSchema, {
          route: routeOf(row),
          revision: change.revision,
        }),
        revision: change.revision,
      };
    });
  }

  private newRoute(row: ModelVersionRow, stage: ModelStage, trafficPercent: number): RouteRow {
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

  /** The production route of a version a rollback restores, as it was when it left. */
  private restoredRoute(row: ModelVersionRow, retained: RetainedRoute | null): RouteRow {
    const route = this.newRoute(row, ModelStage.PRODUCTION, 100);
    if (retained !== null) {
      route.routeId = retained.routeId;
      route.endpoint = retained.endpoint;
      route.minConfidence = retained.minConfidence;
      route.fallback = retained.fallback;
      route.rowVersion = retained.rowVersion + 1;
    }
    return route;
  }
}

function saveStage(
  manager: EntityManager,
  row: ModelVersionRow,
  stage: ModelStage,
  trafficPercent: number,
): Promise<ModelVersion> {
  return saveModelVersion(manager, row, { stage: stageName(stage), trafficPercent });
}

/** The task's routes after a change, for routers: RouteEvent carries all of the tenant's. */
function announceRoutes(log: ChangeLog, change: RoutesChange): void {
  log.event(topics.routes, routesChanged(change.tenantId, change.revision, change.routes));
}

async function promotionResponse(
  manager: EntityManager,
  modelVersion: ModelVersion,
  guardResults: GuardResult[],
): Promise<PromoteModelVersionResponse> {
  const { routes, revision } = await currentRoutes(
    manager,
    modelVersion.tenantId,
    modelVersion.taskId,
  );
  return create(PromoteModelVersionResponseSchema, {
    modelVersion,
    routes,
    revision,
    guardResults,
  });
}

/** Which route fields an update names; INVALID_ARGUMENT for none or an unknown one. */
function routeFieldsOf(updateMask: readonly string[]): Set<RouteField> {
  const unknown = updateMask.filter((path) => !(routeFields as readonly string[]).includes(path));
  if (updateMask.length === 0 || unknown.length > 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `update_mask must name fields among ${routeFields.join(', ')}` +
        (unknown.length > 0 ? `, not ${unknown.join(', ')}` : ''),
    );
  }
  return new Set(updateMask as RouteField[]);
}

/** A route's tunable fields as JSON, to compare and to audit. */
function tunables(route: Route): Record<RouteField, JsonValue> {
  return {
    traffic_percent: route.trafficPercent,
    min_confidence: route.minConfidence,
    fallback: toJson(FallbackPolicySchema, route.fallback ?? create(FallbackPolicySchema)),
    endpoint: route.endpoint,
  };
}

async function openPeriod(
  manager: EntityManager,
  tenantId: string,
  taskId: string,
): Promise<ProductionPeriodRow | null> {
  return manager
    .createQueryBuilder(ProductionPeriodRow, 'p')
    .where('p.tenantId = :tenantId AND p.taskId = :taskId AND p.endedAt IS NULL', {
      tenantId,
      taskId,
    })
    .getOne();
}

async function startPeriod(
  manager: EntityManager,
  version: Pick<ModelVersionRow, 'tenantId' | 'taskId' | 'modelVersionId'>,
  previousId: string | null,
  revision: bigint,
): Promise<void> {
  await manager.insert(ProductionPeriodRow, {
    tenantId: version.tenantId,
    taskId: version.taskId,
    modelVersionId: version.modelVersionId,
    previousId,
    startedAt: new Date(),
    startedRevision: revision.toString(),
    endedAt: null,
    endedRevision: null,
    endReason: null,
    route: null,
  });
}

async function endPeriod(
  manager: EntityManager,
  period: ProductionPeriodRow,
  reason: NonNullable<ProductionPeriodRow['endReason']>,
  revision: bigint,
  route: RouteRow | undefined,
): Promise<void> {
  const retained: RetainedRoute | null =
    route === undefined
      ? null
      : {
          routeId: route.routeId,
          endpoint: route.endpoint,
          minConfidence: route.minConfidence,
          fallback: route.fallback,
          rowVersion: route.rowVersion,
        };
  await manager.update(
    ProductionPeriodRow,
    { id: period.id },
    { endedAt: new Date(), endedRevision: revision.toString(), endReason: reason, route: retained },
  );
}

/** The versions that served before the period's, most recent first, with their stages now. */
async function formerProduction(
  manager: EntityManager,
  period: ProductionPeriodRow,
): Promise<FormerPeriod[]> {
  if (period.previousId === null) return [];
  const rows = await manager.query<
    {
      model_version_id: string;
      previous_id: string | null;
      route: RetainedRoute | null;
      stage: string;
    }[]
  >(
    `WITH RECURSIVE chain (id, previous_id, depth) AS (
       SELECT id, previous_id, 1 FROM production_period WHERE id = $1
       UNION ALL
       SELECT p.id, p.previous_id, c.depth + 1
         FROM production_period p JOIN chain c ON p.id = c.previous_id
        WHERE c.depth < $2
     )
     SELECT p.model_version_id, p.previous_id, p.route, mv.stage
       FROM chain c
       JOIN production_period p ON p.id = c.id
       JOIN model_version mv
         ON mv.tenant_id = p.tenant_id AND mv.model_version_id = p.model_version_id
      ORDER BY c.depth`,
    [period.previousId, maxRollbackDepth],
  );
  return rows.map((row) => ({
    modelVersionId: row.model_version_id,
    stage: stageOf(row.stage),
    previousId: row.previous_id,
    route: row.route,
  }));
}
