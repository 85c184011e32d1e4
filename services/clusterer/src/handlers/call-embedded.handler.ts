import { durationMs, timestampDate } from '@bufbuild/protobuf/wkt';
import { Inject, Injectable } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import { CallStatusCode, type CallEmbedded } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { OnMessage, topics } from '@understudy/messaging';
import { unit } from '../domain/discovery/vectors.js';
import { CallStore, type ObservedCall } from '../drivers/call-store.js';
import { TaskIndexes } from './task-index.js';

/**
 * Records each embedded call with the task the last re-clustering implies for it (or none: the
 * unassigned pool the next run re-examines). Idempotent by call id. Calls arrive keyed by
 * signature, so replicas in the consumer group share the load by signature.
 */
@Injectable()
export class CallEmbeddedHandler {
  private readonly assigned = metrics
    .getMeter('understudy.clusterer')
    .createCounter('understudy.clusterer.calls', {
      description: 'Calls recorded, by how online assignment placed them (or unassigned)',
    });

  constructor(
    @Inject(CallStore) private readonly calls: CallStore,
    @Inject(TaskIndexes) private readonly indexes: TaskIndexes,
  ) {}

  @OnMessage(topics.callsEmbedded, { group: 'clusterer' })
  async onCallEmbedded(event: CallEmbedded): Promise<void> {
    const call = observedCall(event);
    const match = await this.indexes.assign(
      call.tenantId,
      call.signature,
      call.vector === undefined ? undefined : { values: call.vector, model: call.embeddingModel },
    );
    await this.calls.record(
      call,
      match && { taskId: match.taskId, by: match.by, similarity: match.similarity ?? 1 },
    );
    this.assigned.add(1, { 'understudy.clusterer.assigned_by': match?.by ?? 'unassigned' });
  }
}

function observedCall(event: CallEmbedded): ObservedCall {
  const { call, signature, embedding, summary } = event;
  const tenantId = event.meta?.tenantId ?? '';
  if (call === undefined || call.callId === '' || signature === undefined || tenantId === '') {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'CallEmbedded needs meta.tenant_id, call.call_id and a signature',
    );
  }
  const hasVector = embedding !== undefined && embedding.values.length > 0;
  return {
    tenantId,
    callId: call.callId,
    traceId: call.traceId,
    spanId: call.spanId,
    // Without a start time the call counts from when it was clustered.
    startTime: call.startTime === undefined ? new Date() : timestampDate(call.startTime),
    signature,
    vector: hasVector ? Float32Array.from(unit(embedding.values)) : undefined,
    embeddingModel: hasVector ? embedding.model : '',
    embeddingBackend: hasVector ? embedding.backend : '',
    terms: event.terms.slice(0, 32),
    contentHash: event.contentHash,
    contentCaptured: summary?.contentCaptured ?? false,
    provider: summary?.provider ?? '',
    requestModel: summary?.requestModel ?? '',
    inputTokens: summary?.usage?.inputTokens,
    outputTokens: summary?.usage?.outputTokens,
    latencyMs: summary?.latency === undefined ? undefined : durationMs(summary.latency),
    output: summary?.output && {
      json: summary.output.json,
      toolCall: summary.output.toolCall,
      digest: summary.output.digest,
    },
    failed: summary?.status === CallStatusCode.ERROR,
  };
}
