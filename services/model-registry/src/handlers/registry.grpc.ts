import { Inject, Injectable } from '@nestjs/common';
import {
  ModelRegistryService,
  type CreateDatasetRequest,
  type GetDatasetRequest,
  type GetModelVersionLineageRequest,
  type GetModelVersionRequest,
  type GetRoutingTableRequest,
  type GetTaskLineageRequest,
  type GetTaskRequest,
  type ListDatasetsRequest,
  type ListModelVersionsRequest,
  type PromoteModelVersionRequest,
  type RegisterModelVersionRequest,
  type RetireModelVersionRequest,
  type WatchRoutingTableRequest,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { GrpcServer, GrpcService, type CallContext, type ServiceImpl } from '@understudy/grpc';
import { ModelRegistry } from '../domain/model-registry.js';
import { requireFields } from '../domain/validation.js';
import type { Actor } from '../drivers/changes.js';
import { DatasetStore } from '../drivers/datasets.js';
import { ModelVersionStore } from '../drivers/model-versions.js';
import { RoutingStore } from '../drivers/routing.js';
import { ViewStore } from '../drivers/views.js';

type Impl = ServiceImpl<typeof ModelRegistryService>;

/** RPCs that the registry's hardening issue brings; they answer UNIMPLEMENTED until then. */
export const unimplementedRpcs = [
  'ListTasks',
  'UpdateModelVersion',
  'CreateEvaluation',
  'GetEvaluation',
  'ListEvaluations',
  'GetRoute',
  'ListRoutes',
  'UpdateRoute',
  'RollbackRoute',
  'ListAuditEntries',
  'ApproveModelVersion',
  'GetPromotionPolicy',
  'UpdatePromotionPolicy',
] as const;

function unimplemented(rpc: (typeof unimplementedRpcs)[number]): never {
  throw new UnderstudyError(
    ErrorCode.Unimplemented,
    `ModelRegistryService.${rpc} is not implemented yet in this registry version`,
  );
}

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
    @Inject(ViewStore) private readonly views: ViewStore,
    @Inject(GrpcServer) private readonly server: GrpcServer,
  ) {}

  async getTask(request: GetTaskRequest) {
    return { task: await this.views.getTask(request.tenantId, request.taskId) };
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
      tenantId: request.tenantId,
      modelVersionId: request.modelVersionId,
      target: request.targetStage,
      trafficPercent: request.trafficPercent,
      etag: request.etag,
      reason: request.reason,
      actor: actorOf(context),
    });
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

  watchRoutingTable(request: WatchRoutingTableRequest, context: CallContext) {
    return this.registry.watch({
      tenantId: request.tenantId,
      fromRevision: request.fromRevision,
      signal: context.signal,
      // Ends the stream when shutdown begins, so that it does not hold the server open.
      serving: () => this.server.health.get('') === 'SERVING',
    });
  }

  getModelVersionLineage(request: GetModelVersionLineageRequest) {
    return this.registry.modelVersionLineage(request.tenantId, request.modelVersionId);
  }

  getTaskLineage(request: GetTaskLineageRequest) {
    requireFields({ tenant_id: request.tenantId, task_id: request.taskId });
    return this.registry.taskLineage(request.tenantId, request.taskId);
  }

  listTasks: Impl['listTasks'] = () => unimplemented('ListTasks');
  updateModelVersion: Impl['updateModelVersion'] = () => unimplemented('UpdateModelVersion');
  createEvaluation: Impl['createEvaluation'] = () => unimplemented('CreateEvaluation');
  getEvaluation: Impl['getEvaluation'] = () => unimplemented('GetEvaluation');
  listEvaluations: Impl['listEvaluations'] = () => unimplemented('ListEvaluations');
  getRoute: Impl['getRoute'] = () => unimplemented('GetRoute');
  listRoutes: Impl['listRoutes'] = () => unimplemented('ListRoutes');
  updateRoute: Impl['updateRoute'] = () => unimplemented('UpdateRoute');
  rollbackRoute: Impl['rollbackRoute'] = () => unimplemented('RollbackRoute');
  listAuditEntries: Impl['listAuditEntries'] = () => unimplemented('ListAuditEntries');
  approveModelVersion: Impl['approveModelVersion'] = () => unimplemented('ApproveModelVersion');
  getPromotionPolicy: Impl['getPromotionPolicy'] = () => unimplemented('GetPromotionPolicy');
  updatePromotionPolicy: Impl['updatePromotionPolicy'] = () =>
    unimplemented('UpdatePromotionPolicy');
}
