import { Inject, Injectable } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  DatasetBuilderService,
  DatasetBuildSchema,
  DatasetBuildState,
  type BuildDatasetRequest,
  type DatasetBuild,
  type GetDatasetBuildRequest,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { GrpcService, type ServiceImpl } from '@understudy/grpc';
import { InjectConfig, type ServiceConfig } from '@understudy/service';
import type { settings } from '../config.js';
import { DatasetBuilder } from '../domain/dataset-builder.js';
import type { BuildRecord, DatasetStore } from '../domain/ports.js';
import { DATASET_STORE } from '../tokens.js';

/**
 * Builds on request. The build runs within the call (datasets of a task's representative calls
 * are small), so the answer already says READY or FAILED.
 */
@Injectable()
@GrpcService(DatasetBuilderService)
export class DatasetBuilderGrpc implements ServiceImpl<typeof DatasetBuilderService> {
  constructor(
    @Inject(DatasetBuilder) private readonly builder: DatasetBuilder,
    @Inject(DATASET_STORE) private readonly store: DatasetStore,
    @InjectConfig() private readonly config: ServiceConfig<typeof settings>,
  ) {}

  async buildDataset(request: BuildDatasetRequest) {
    required({
      request_id: request.requestId,
      tenant_id: request.tenantId,
      task_id: request.taskId,
    });
    if (request.sourceWindow !== undefined || request.maxExamples !== 0) {
      throw new UnderstudyError(
        ErrorCode.Unimplemented,
        'source_window and max_examples are not supported yet: builds use all of the task’s calls',
      );
    }
    const evalFraction =
      request.evalFraction === 0 ? this.config.evalFraction : request.evalFraction;
    if (!(evalFraction > 0 && evalFraction < 1)) {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'eval_fraction must lie in (0, 1)');
    }
    const task = await this.store.task(request.tenantId, request.taskId);
    if (task === undefined) {
      throw new UnderstudyError(ErrorCode.NotFound, `no active task ${request.taskId}`);
    }
    // Asked for explicitly, so any usable call suffices: the size threshold is for automatic builds.
    const build = await this.builder.consider(
      task,
      '',
      { minCalls: 1, evalFraction },
      request.requestId,
    );
    if (build === undefined) {
      throw new UnderstudyError(
        ErrorCode.FailedPrecondition,
        `task ${request.taskId} has no usable calls (content captured, succeeded) yet`,
      );
    }
    return { build: buildOf(build) };
  }

  async getDatasetBuild(request: GetDatasetBuildRequest) {
    required({ tenant_id: request.tenantId, dataset_id: request.datasetId });
    const build = await this.store.build(request.tenantId, request.datasetId);
    if (build === undefined) {
      throw new UnderstudyError(ErrorCode.NotFound, `no dataset build ${request.datasetId}`);
    }
    return { build: buildOf(build) };
  }
}

function required(fields: Record<string, string>): void {
  const missing = Object.entries(fields).filter(([, value]) => value === '');
  if (missing.length > 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `missing ${missing.map(([name]) => name).join(', ')}`,
    );
  }
}

const states = {
  building: DatasetBuildState.BUILDING,
  ready: DatasetBuildState.READY,
  failed: DatasetBuildState.FAILED,
} as const;

function buildOf(record: BuildRecord): DatasetBuild {
  return create(DatasetBuildSchema, {
    datasetId: record.datasetId,
    tenantId: record.tenantId,
    taskId: record.taskId,
    state: states[record.state],
    failureReason: record.failureReason ?? '',
    requestId: record.requestId,
    createdAt: timestampFromDate(record.createdAt),
    ...(record.finishedAt && { finishedAt: timestampFromDate(record.finishedAt) }),
  });
}
