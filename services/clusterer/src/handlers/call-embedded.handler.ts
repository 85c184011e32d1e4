import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Inject, Injectable } from '@nestjs/common';
import { CallStatusCode, type CallEmbedded } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { OnMessage, topics } from '@understudy/messaging';
import type { ClusteringPolicy } from '../domain/clustering.js';
import { TaskStore, type EmbeddedCall } from '../drivers/task-store.js';
import { TaskAnnouncer } from './task-announcer.js';

export const CLUSTERING_POLICY = Symbol('clusterer.ClusteringPolicy');

/** Assigns each embedded call to a task (idempotent by call id), then announces what changed. */
@Injectable()
export class CallEmbeddedHandler {
  constructor(
    @Inject(TaskStore) private readonly store: TaskStore,
    @Inject(TaskAnnouncer) private readonly announcer: TaskAnnouncer,
    @Inject(CLUSTERING_POLICY) private readonly policy: ClusteringPolicy,
  ) {}

  @OnMessage(topics.callsEmbedded, { group: 'clusterer' })
  async onCallEmbedded(event: CallEmbedded): Promise<void> {
    const call = toEmbeddedCall(event);
    await this.store.assign(call, this.policy);
    // Also after a redelivery: the announcement may not have gone out the first time.
    await this.announcer.announcePending(
      call.tenantId,
      call.signature.digest,
      event.meta?.eventId ?? '',
    );
  }
}

function toEmbeddedCall(event: CallEmbedded): EmbeddedCall {
  const { call, signature, embedding, summary } = event;
  const tenantId = event.meta?.tenantId ?? '';
  if (call === undefined || call.callId === '' || signature === undefined || tenantId === '') {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'CallEmbedded needs meta.tenant_id, call.call_id and a signature',
    );
  }
  const vector =
    embedding !== undefined && embedding.values.length > 0
      ? { values: embedding.values, model: embedding.model, backend: embedding.backend }
      : undefined;
  return {
    tenantId,
    callId: call.callId,
    traceId: call.traceId,
    spanId: call.spanId,
    // Without a start time the call counts from when it was clustered.
    startTime: call.startTime === undefined ? new Date() : timestampDate(call.startTime),
    signature,
    vector,
    contentHash: event.contentHash,
    contentCaptured: summary?.contentCaptured ?? false,
    provider: summary?.provider ?? '',
    requestModel: summary?.requestModel ?? '',
    inputTokens: summary?.usage?.inputTokens,
    outputTokens: summary?.usage?.outputTokens,
    failed: summary?.status === CallStatusCode.ERROR,
  };
}
