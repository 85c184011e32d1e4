import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate, timestampNow } from '@bufbuild/protobuf/wkt';
import { Inject, Injectable } from '@nestjs/common';
import {
  ClustererService,
  type ClassifyCallRequest,
  type ClassifyCallResponseSchema,
  type GetTaskReportRequest,
  type GetTaskReportResponseSchema,
  type ListTaskCallsRequest,
  type ListTaskCallsResponseSchema,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { GrpcService, type CallContext, type ServiceImpl } from '@understudy/grpc';
import { unit } from '../domain/discovery/vectors.js';
import { callCost, type PriceTable } from '../domain/prices.js';
import { taskMessage } from '../domain/task-message.js';
import { CallStore } from '../drivers/call-store.js';
import type { CallDeriver } from '../drivers/embedder-client.js';
import type { TaskRow } from '../drivers/entities.js';
import { TaskStore } from '../drivers/task-store.js';
import { CALL_DERIVER, PRICE_TABLE } from '../drivers/tokens.js';
import { TaskIndexes } from './task-index.js';

@GrpcService(ClustererService)
@Injectable()
export class ClustererGrpc implements ServiceImpl<typeof ClustererService> {
  constructor(
    @Inject(TaskStore) private readonly tasks: TaskStore,
    @Inject(CallStore) private readonly calls: CallStore,
    @Inject(TaskIndexes) private readonly indexes: TaskIndexes,
    @Inject(CALL_DERIVER) private readonly deriver: CallDeriver,
    @Inject(PRICE_TABLE) private readonly prices: PriceTable,
  ) {}

  /** The task as the last re-clustering described it, with its calls' figures as they stand. */
  async getTaskReport(
    request: GetTaskReportRequest,
  ): Promise<MessageInitShape<typeof GetTaskReportResponseSchema>> {
    const row = await this.task(request.tenantId, request.taskId);
    const statistics = await this.calls.statistics(row.tenantId, row.taskId);
    const first = statistics.firstSeenAt ?? row.firstSeenAt;
    const last = statistics.lastSeenAt ?? row.lastSeenAt;
    return {
      report: {
        task: taskMessage(row),
        window: {
          startTime: timestampFromDate(first),
          // Half-open: the last call is inside the window.
          endTime: timestampFromDate(new Date(last.getTime() + 1)),
        },
        callCount: BigInt(statistics.callCount),
        contentCapturedCount: BigInt(statistics.contentCapturedCount),
        errorCount: BigInt(statistics.errorCount),
        models: statistics.models.map((model) => ({
          provider: model.provider,
          requestModel: model.requestModel,
          callCount: BigInt(model.callCount),
          inputTokens: BigInt(model.inputTokens),
          outputTokens: BigInt(model.outputTokens),
          cost: callCost(this.prices, model) ?? 0,
        })),
        computedAt: timestampNow(),
      },
    };
  }

  async listTaskCalls(
    request: ListTaskCallsRequest,
  ): Promise<MessageInitShape<typeof ListTaskCallsResponseSchema>> {
    const row = await this.task(request.tenantId, request.taskId);
    const limit = request.pageSize <= 0 ? 50 : Math.min(request.pageSize, 500);
    const { window } = request;
    const members = await this.calls.members(row.tenantId, row.taskId, {
      ...(window?.startTime && { start: timestampDate(window.startTime) }),
      ...(window?.endTime && { end: timestampDate(window.endTime) }),
      contentCapturedOnly: request.contentCapturedOnly,
      ...(request.pageToken !== '' && { after: decodePageToken(request.pageToken) }),
      // One more than asked tells whether another page follows.
      limit: limit + 1,
    });
    const page = members.slice(0, limit);
    const last = page.at(-1);
    return {
      members: page.map((member) => ({
        call: {
          callId: member.callId,
          traceId: member.traceId,
          spanId: member.spanId,
          startTime: timestampFromDate(member.startTime),
        },
        similarity: Math.max(0, Math.min(1, member.similarity)),
        contentCaptured: member.contentCaptured,
        contentHash: member.contentHash,
      })),
      nextPageToken:
        members.length > limit && last !== undefined
          ? encodePageToken(last.startTime, last.callId)
          : '',
    };
  }

  /**
   * A live call's task, as a recorded call with its signature and embedding would be assigned.
   * Confidence: 1 when the signature or place decides; the cosine similarity to the centroid
   * when content does.
   */
  async classifyCall(
    request: ClassifyCallRequest,
    context: CallContext,
  ): Promise<MessageInitShape<typeof ClassifyCallResponseSchema>> {
    const call = request.call;
    if (call === undefined || call.tenantId === '') {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'call with a tenant_id is required');
    }
    const { signature, embedding } = await this.deriver.derive(call, context.signal);
    if (signature === undefined) return { taskId: '', confidence: 0, signature: '' };
    const match = await this.indexes.assign(
      call.tenantId,
      signature,
      embedding !== undefined && embedding.values.length > 0
        ? { values: Float32Array.from(unit(embedding.values)), model: embedding.model }
        : undefined,
    );
    return {
      taskId: match?.taskId ?? '',
      confidence: match === undefined ? 0 : Math.max(0, Math.min(1, match.similarity ?? 1)),
      signature: signature.digest,
    };
  }

  private async task(tenantId: string, taskId: string): Promise<TaskRow> {
    if (tenantId === '' || taskId === '') {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'tenant_id and task_id are required');
    }
    const row = await this.tasks.findTask(tenantId, taskId);
    if (row === undefined) {
      throw new UnderstudyError(ErrorCode.NotFound, `task ${taskId} not found`);
    }
    return row;
  }
}

function encodePageToken(startTime: Date, callId: string): string {
  return Buffer.from(JSON.stringify([startTime.toISOString(), callId])).toString('base64url');
}

function decodePageToken(token: string): { startTime: Date; callId: string } {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      Array.isArray(decoded) &&
      typeof decoded[0] === 'string' &&
      typeof decoded[1] === 'string'
    ) {
      const startTime = new Date(decoded[0]);
      if (!Number.isNaN(startTime.getTime())) return { startTime, callId: decoded[1] };
    }
  } catch {
    // Reported below, like any other malformed token.
  }
  throw new UnderstudyError(ErrorCode.InvalidArgument, 'page_token is not valid');
}
