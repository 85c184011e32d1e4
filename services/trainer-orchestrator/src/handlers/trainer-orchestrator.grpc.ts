import { Inject, Injectable } from '@nestjs/common';
import {
  TrainerOrchestratorService,
  type CancelTrainingRunRequest,
  type GetTrainingRunRequest,
  type ListTrainingRunsRequest,
  type SubmitTrainingRunRequest,
  type WatchTrainingRunRequest,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { GrpcService, type CallContext, type ServiceImpl } from '@understudy/grpc';
import { hyperParameters } from '../domain/hyper-parameters.js';
import { Orchestrator } from '../domain/orchestrator.js';
import type { RunState } from '../domain/run.js';
import { runStates, toTrainingRun } from '../domain/wire.js';
import { REGISTRY } from '../tokens.js';
import type { ModelRegistry } from '../drivers/model-registry.js';
import { InjectConfig } from '@understudy/service';
import type { TrainerOrchestratorConfig } from '../service.js';

const required = (fields: Record<string, string>): void => {
  const missing = Object.keys(fields).filter((name) => fields[name] === '');
  if (missing.length > 0) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, `missing ${missing.join(', ')}`, {
      details: { fields: missing },
    });
  }
};

/** Page tokens are the last run's creation time and id (keyset paging, newest first). */
function decodePageToken(token: string): { createdAt: Date; runId: string } | undefined {
  if (token === '') return undefined;
  const [time, runId] = Buffer.from(token, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(time ?? '');
  if (runId === undefined || Number.isNaN(createdAt.getTime())) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'invalid page_token');
  }
  return { createdAt, runId };
}

@GrpcService(TrainerOrchestratorService)
@Injectable()
export class TrainerOrchestratorGrpc implements ServiceImpl<typeof TrainerOrchestratorService> {
  constructor(
    @Inject(Orchestrator) private readonly orchestrator: Orchestrator,
    @Inject(REGISTRY) private readonly registry: ModelRegistry,
    @InjectConfig() private readonly config: TrainerOrchestratorConfig,
  ) {}

  async submitTrainingRun(request: SubmitTrainingRunRequest, context: CallContext) {
    const { requestId, tenantId, taskId, datasetId } = request;
    required({
      request_id: requestId,
      tenant_id: tenantId,
      task_id: taskId,
      dataset_id: datasetId,
    });
    const datasetUri = await this.registry.datasetManifestUri(tenantId, datasetId);
    const run = await this.orchestrator.submit({
      requestId,
      // This server authenticates no caller yet (no `authenticate` hook; see the README): its
      // callers are recorded as `anonymous` until it does.
      requestedBy: context.principal?.subject ?? 'anonymous',
      tenantId,
      taskId,
      datasetId,
      datasetUri,
      baseModel: request.baseModel || this.config.baseModel,
      hyperParameters: hyperParameters(request.config),
      resources: {
        accelerator: request.resources?.accelerator ?? '',
        acceleratorCount: request.resources?.acceleratorCount ?? 0,
        queue: request.resources?.queue ?? '',
      },
    });
    return { run: toTrainingRun(run) };
  }

  async getTrainingRun(request: GetTrainingRunRequest) {
    required({ tenant_id: request.tenantId, run_id: request.runId });
    return { run: toTrainingRun(await this.orchestrator.get(request.tenantId, request.runId)) };
  }

  async listTrainingRuns(request: ListTrainingRunsRequest) {
    required({ tenant_id: request.tenantId });
    if (
      request.orderBy !== '' &&
      request.orderBy.replace(/\s+/g, ' ').trim() !== 'created_at desc'
    ) {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'order_by supports `created_at desc`');
    }
    const pageSize = request.pageSize <= 0 ? 50 : Math.min(request.pageSize, 500);
    const after = decodePageToken(request.pageToken);
    const states: RunState[] = request.states.flatMap(runStates);
    const runs = await this.orchestrator.list({
      tenantId: request.tenantId,
      ...(request.taskId !== '' && { taskId: request.taskId }),
      ...(request.datasetId !== '' && { datasetId: request.datasetId }),
      ...(states.length > 0 && { states }),
      ...(after !== undefined && { after }),
      limit: pageSize + 1,
    });
    const page = runs.slice(0, pageSize);
    const last = page.at(-1);
    return {
      runs: page.map(toTrainingRun),
      nextPageToken:
        runs.length > pageSize && last !== undefined
          ? Buffer.from(`${last.createdAt.toISOString()}|${last.runId}`).toString('base64url')
          : '',
    };
  }

  async cancelTrainingRun(request: CancelTrainingRunRequest) {
    required({ tenant_id: request.tenantId, run_id: request.runId });
    const run = await this.orchestrator.cancel(request.tenantId, request.runId, request.reason);
    return { run: toTrainingRun(run) };
  }

  async *watchTrainingRun(request: WatchTrainingRunRequest, context: CallContext) {
    required({ tenant_id: request.tenantId, run_id: request.runId });
    for await (const run of this.orchestrator.watch(
      request.tenantId,
      request.runId,
      context.signal,
    )) {
      yield { run: toTrainingRun(run) };
    }
  }
}
