import { randomBytes } from 'node:crypto';
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
import { ContentKeyring, encryptContent } from '@understudy/tenancy';

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
}

/** A captured chat call with plain content: optional system instructions, a user turn, an answer. */
export function chatCall(fixture: CallFixture): LlmCall {
  return create(LlmCallSchema, {
    tenantId: fixture.tenantId ?? 'acme',
    callId: fixture.callId,
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

/** A keyring with one active key for each tenant given, and the file it was parsed from. */
export function testKeyring(...tenants: string[]): { keyring: ContentKeyring; json: string } {
  const json = JSON.stringify(
    tenants.map((tenant) => ({
      tenant,
      keyId: `${tenant}-key`,
      key: randomBytes(32).toString('base64'),
      active: true,
    })),
  );
  return { keyring: ContentKeyring.parse(json, 'test keys'), json };
}

/** The call with its plain content sealed for its tenant, as the collector sends it when told to. */
export function encrypted(call: LlmCall, keyring: ContentKeyring): LlmCall {
  if (call.content.case !== 'plainContent') throw new Error(`${call.callId} has no plain content`);
  return create(LlmCallSchema, {
    ...call,
    content: {
      case: 'encryptedContent',
      value: encryptContent(call.content.value, call.callId, call.tenantId, keyring),
    },
  });
}
