import { Inject, Injectable } from '@nestjs/common';
import type { CallCaptured } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { OnMessage, topics } from '@understudy/messaging';
import { DatasetBuilder } from '../domain/dataset-builder.js';

@Injectable()
export class CallsHandler {
  constructor(@Inject(DatasetBuilder) private readonly builder: DatasetBuilder) {}

  @OnMessage(topics.callsCaptured, { group: 'dataset-builder' })
  async onCallCaptured(event: CallCaptured): Promise<void> {
    const { call, meta } = event;
    if (call === undefined || call.tenantId === '' || call.callId === '') {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        'CallCaptured without tenant or call id',
      );
    }
    await this.builder.addCall(call, meta?.eventId ?? '');
  }
}
