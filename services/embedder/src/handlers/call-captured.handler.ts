import { create } from '@bufbuild/protobuf';
import { Inject, Injectable } from '@nestjs/common';
import {
  CallEmbeddedSchema,
  CallRefSchema,
  CallStatusCode,
  CallSummarySchema,
  type CallCaptured,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { Messaging, OnMessage, topics } from '@understudy/messaging';
import { CallEmbedder } from '../domain/call-embedder.js';
import { eventMeta } from '../events.js';

/** Every captured call becomes a CallEmbedded, keyed by its signature digest. */
@Injectable()
export class CallCapturedHandler {
  constructor(
    @Inject(CallEmbedder) private readonly embedder: CallEmbedder,
    @Inject(Messaging) private readonly messaging: Messaging,
  ) {}

  @OnMessage(topics.callsCaptured, { group: 'embedder' })
  async onCallCaptured(event: CallCaptured): Promise<void> {
    const call = event.call;
    if (call === undefined || call.callId === '') {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'CallCaptured without a call id');
    }
    const { signature, embedding, contentHash, terms, output } = await this.embedder.derive(call);
    const tenantId = call.tenantId || (event.meta?.tenantId ?? '');
    await this.messaging.publish(
      topics.callsEmbedded,
      create(CallEmbeddedSchema, {
        meta: eventMeta(tenantId, event.meta, call.callId),
        call: create(CallRefSchema, {
          callId: call.callId,
          traceId: call.traceId,
          spanId: call.spanId,
          ...(call.timing?.startTime && { startTime: call.timing.startTime }),
        }),
        signature,
        ...(embedding && { embedding }),
        contentHash,
        terms,
        summary: create(CallSummarySchema, {
          provider: call.provider,
          requestModel: call.requestModel,
          ...(call.usage && { usage: call.usage }),
          ...(call.timing?.latency && { latency: call.timing.latency }),
          contentCaptured: call.contentCaptured,
          status: call.status?.code ?? CallStatusCode.UNSPECIFIED,
          ...(output && { output }),
        }),
      }),
    );
  }
}
