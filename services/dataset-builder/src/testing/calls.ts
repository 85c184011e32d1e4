import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  CallStatusCode,
  LlmCallSchema,
  Role,
  type CallContentSchema,
  type LlmCall,
  type MessagePartSchema,
} from '@understudy/contracts';
export { encrypted, testKeyring } from '@understudy/tenancy/testing';

type PartInit = MessageInitShape<typeof MessagePartSchema>;

export const text = (value: string): PartInit => ({
  kind: { case: 'text', value: { text: value } },
});
export const toolCall = (id: string, name: string, args: string): PartInit => ({
  kind: { case: 'toolCall', value: { id, name, arguments: args } },
});
export const toolResult = (id: string, response: string): PartInit => ({
  kind: { case: 'toolCallResponse', value: { id, response } },
});

export interface CallFixture {
  readonly tenantId?: string;
  readonly callId: string;
  readonly system?: string;
  readonly user?: string;
  readonly answer?: string;
  readonly startTime?: Date;
  readonly status?: CallStatusCode;
  readonly requestModel?: string;
  readonly responseModel?: string;
}

/** A captured chat call with plain content: optional system instructions, a user turn, an answer. */
export function chatCall(fixture: CallFixture): LlmCall {
  return create(LlmCallSchema, {
    tenantId: fixture.tenantId ?? 'acme',
    callId: fixture.callId,
    requestModel: fixture.requestModel ?? '',
    responseModel: fixture.responseModel ?? '',
    contentCaptured: true,
    content: {
      case: 'plainContent',
      value: {
        systemInstructions: fixture.system === undefined ? [] : [text(fixture.system)],
        inputMessages: [
          { role: Role.USER, parts: [text(fixture.user ?? `question of ${fixture.callId}`)] },
        ],
        outputMessages: [
          { role: Role.ASSISTANT, parts: [text(fixture.answer ?? `answer of ${fixture.callId}`)] },
        ],
      },
    },
    timing: { startTime: timestampFromDate(fixture.startTime ?? new Date('2026-01-01T00:00:00Z')) },
    status: { code: fixture.status ?? CallStatusCode.OK },
  });
}

/** A succeeded call with the given plain content. */
export function callWith(content: MessageInitShape<typeof CallContentSchema>): LlmCall {
  return create(LlmCallSchema, {
    tenantId: 'acme',
    callId: 'c',
    contentCaptured: true,
    content: { case: 'plainContent', value: content },
    status: { code: CallStatusCode.OK },
  });
}
