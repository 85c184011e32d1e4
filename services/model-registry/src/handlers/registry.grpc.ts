import { Inject, Injectable } from '@nestjs/common';
import {
  ModelRegistryService,
  type ApproveModelVersionRequest,
  type CreateDatasetRequest,
  type CreateEvaluationRequest,
  type GetDatasetRequest,
  type GetEvaluationRequest,
  type GetModelVersionLineageRequest,
  type GetModelVersionRequest,
  type GetPromotionPolicyRequest,
  type GetRouteRequest,
  type GetRoutingTableRequest,
  type GetSavingsReportRequest,
  type GetTaskLineageRequest,
  type GetTaskRequest,
  type ListAuditEntriesRequest,
  type ListDatasetsRequest,
  type ListEvaluationsRequest,
  type ListModelVersionsRequest,
  type ListRoutesRequest,
  type ListTasksRequest,
  type PromoteModelVersionRequest,
  type RegisterModelVersionRequest,
  type RetireModelVersionRequest,
  type RollbackRouteRequest,
  type UpdateModelVersionRequest,
  type UpdatePromotionPolicyRequest,
  type UpdateRouteRequest,
  type WatchRoutingTableRequest,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { GrpcServer, GrpcService, type CallContext, type ServiceImpl } from '@understudy/grpc';
import { Lineage } from '../domain/lineage.js';
import { ModelRegistry } from '../domain/model-registry.js';
import { RoutingWatch } from '../domain/routing-watch.js';
import { maxReportTasks, reportSizeOf, savingsReport } from '../domain/savings-report.js';
import { ApprovalStore } from '../drivers/approvals.js';
import { AuditLog } from '../drivers/audit.js';
import type { Actor } from '../drivers/changes.js';
import { DatasetStore } from '../drivers/datasets.js';
import { EvaluationStore } from '../drivers/evaluations.js';
import { ModelVersionStore } from '../drivers/model-versions.js';
import { PolicyStore } from '../drivers/policies.js';
import { RouteStore } from '../drivers/routes.js';
import { RoutingStore } from '../drivers/routing.js';
import { TaskStore } from '../drivers/tasks.js';

type Impl = ServiceImpl<typeof ModelRegistryService>;

/** Who made a change, for the audit log: the authenticated caller. */
function actorOf(context: CallContext): Actor {
  return context.principal?.subject ?? '';
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, `${field} must be set`);
  }
  return value;
}

/** ModelRegistryService over the registry's stores: decode, call, map. */
@Injectable()
@GrpcService(ModelRegistryService)
export class RegistryGrpc implements Impl {
  constructor(
    @Inject(ModelRegistry) private readonly registry: ModelRegistry,
    @Inject(DatasetStore) private readonly datasets: DatasetStore,
    @Inject(ModelVersionStore) private readonly modelVersions: ModelVersionStore,
    @Inject(RoutingStore) private readonly routing: RoutingStore,
    @Inject(TaskStore) private readonly tasks: TaskStore,
    @Inject(Lineage) private readonly lineage: Lineage,
    @Inject(GrpcServer) private readonly server: GrpcServer,
    @Inject(RoutingWatch) private readonly routingWatch: RoutingWatch,
    @Inject(EvaluationStore) private readonly evaluations: EvaluationStore,
    @Inject(ApprovalStore) private readonly approvals: ApprovalStore,
    @Inject(PolicyStore) private readonly policies: PolicyStore,
    @Inject(RouteStore) private readonly routes: RouteStore,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  async getTask(request: GetTaskRequest) {
    return { task: await this.tasks.get(request.tenantId, request.taskId) };
  }

  listTasks(request: ListTasksRequest) {
    return this.tasks.list(request);
  }

  async getSavingsReport(request: GetSavingsReportRequest) {
    const { tenantId, minSuitability, limit } = request;
    const size = reportSizeOf(limit);
    // All candidates, not `size`: tasks in another currency are left out before the limit.
    const candidates = await this.tasks.rankedBySavings(tenantId, minSuitability, maxReportTasks);
    return { report: savingsReport(tenantId, candidates, size, new Date()) };
  }

  async createDataset(request: CreateDatasetRequest, context: CallContext) {
    const dataset = required(request.dataset, 'dataset');
    return { dataset: await this.datasets.create(request.requestId, dataset, actorOf(context)) };
  }

  async getDataset(request: GetDatasetRequest) {
    return { dataset: await this.datasets.get(request.tenantId, request.datasetId) };
  }

  listDatasets(request: ListDatasetsRequest) {
    return this.datasets.list(request);
  }

  async registerModelVersion(request: RegisterModelVersionRequest, context: CallContext) {
    const input = required(request.modelVersion, 'model_version');
    return {
      modelVersion: await this.registry.register(request.requestId, input, actorOf(context)),
    };
  }

  async updateModelVersion(request: UpdateModelVersionRequest, context: CallContext) {
    return {
      modelVersion: await this.modelVersions.update({
        modelVersion: required(request.modelVersion, 'model_version'),
        paths: request.updateMask?.paths ?? [],
        actor: actorOf(context),
      }),
    };
  }

  async getModelVersion(request: GetModelVersionRequest) {
    return {
      modelVersion: await this.modelVersions.get(request.tenantId, request.modelVersionId),
    };
  }

  listModelVersions(request: ListModelVersionsRequest) {
    return this.modelVersions.list(request);
  }

  promoteModelVersion(request: PromoteModelVersionRequest, context: CallContext) {
    return this.registry.promote({
      requestId: request.requestId,
      tenantId: request.tenantId,
      modelVersionId: request.modelVersionId,
      target: request.targetStage,
      trafficPercent: request.trafficPercent,
      etag: request.etag,
      reason: request.reason,
      expectedRevision: request.expectedRevision,
      validateOnly: request.validateOnly,
      actor: actorOf(context),
    });
  }

  approveModelVersion(request: ApproveModelVersionRequest, context: CallContext) {
    return this.approvals.approve({
      requestId: request.requestId,
      tenantId: request.tenantId,
      modelVersionId: request.modelVersionId,
      targetStage: request.targetStage,
      etag: request.etag,
      comment: request.comment,
      actor: actorOf(context),
    });
  }

  async getPromotionPolicy(request: GetPromotionPolicyRequest) {
    return { policy: await this.policies.get(request.tenantId, request.taskId) };
  }

  async updatePromotionPolicy(request: UpdatePromotionPolicyRequest, context: CallContext) {
    return {
      policy: await this.policies.update({
        policy: required(request.policy, 'policy'),
        updateMask: request.updateMask?.paths ?? [],
        actor: actorOf(context),
      }),
    };
  }

  async createEvaluation(request: CreateEvaluationRequest, context: CallContext) {
    const evaluation = required(request.evaluation, 'evaluation');
    return {
      evaluation: await this.evaluations.create(request.requestId, evaluation, actorOf(context)),
    };
  }

  async getEvaluation(request: GetEvaluationRequest) {
    return { evaluation: await this.evaluations.get(request.tenantId, request.evaluationId) };
  }

  listEvaluations(request: ListEvaluationsRequest) {
    return this.evaluations.list(request);
  }

  async retireModelVersion(request: RetireModelVersionRequest, context: CallContext) {
    const { tenantId, modelVersionId, etag, reason } = request;
    return {
      modelVersion: await this.registry.retire({
        tenantId,
        modelVersionId,
        etag,
        reason,
        actor: actorOf(context),
      }),
    };
  }

  async getRoutingTable(request: GetRoutingTableRequest) {
    return { routingTable: await this.routing.snapshot(request.tenantId) };
  }

  async getRoute(request: GetRouteRequest) {
    return { route: await this.routes.get(request.tenantId, request.routeId) };
  }

  listRoutes(request: ListRoutesRequest) {
    return this.routes.list(request);
  }

  updateRoute(request: UpdateRouteRequest, context: CallContext) {
    return this.registry.updateRoute({
      route: required(request.route, 'route'),
      updateMask: request.updateMask?.paths ?? [],
      actor: actorOf(context),
    });
  }

  rollbackRoute(request: RollbackRouteRequest, context: CallContext) {
    return this.registry.rollback({
      requestId: request.requestId,
      tenantId: request.tenantId,
      taskId: request.taskId,
      reason: request.reason,
      expectedRevision: request.expectedRevision,
      actor: actorOf(context),
    });
  }

  watchRoutingTable(request: WatchRoutingTableRequest, context: CallContext) {
    return this.routingWatch.watch({
      tenantId: request.tenantId,
      fromRevision: request.fromRevision,
      signal: context.signal,
      // Ends the stream when shutdown begins, so that it does not hold the server open.
      serving: () => this.server.health.get('') === 'SERVING',
    });
  }

  getModelVersionLineage(request: GetModelVersionLineageRequest) {
    return this.lineage.ofModelVersion(request.tenantId, request.modelVersionId);
  }

  getTaskLineage(request: GetTaskLineageRequest) {
    const { tenantId, taskId, includePredecessors } = request;
    return this.lineage.ofTask(tenantId, taskId, includePredecessors);
  }

  listAuditEntries(request: ListAuditEntriesRequest) {
    return this.audit.list(request);
  }
}
