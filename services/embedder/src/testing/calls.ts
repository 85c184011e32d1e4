import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  CallContentSchema,
  CallContextSchema,
  LlmCallSchema,
  Operation,
  Role,
  type LlmCall,
  type MessagePartSchema,
} from '@understudy/contracts';
export { encrypted, testKeyring } from '@understudy/tenancy/testing';

export interface CallFixture {
  readonly callId?: string;
  readonly tenantId?: string;
  readonly agent?: string;
  readonly system?: string;
  readonly user?: string;
  readonly toolResult?: string;
  readonly tools?: readonly string[];
  /** The model's answer, one entry per choice. */
  readonly answers?: readonly Answer[];
}

export interface Answer {
  readonly text?: string;
  readonly toolCalls?: readonly { readonly name: string; readonly arguments: string }[];
}

type Part = MessageInitShape<typeof MessagePartSchema>;

const text = (value: string): Part => ({ kind: { case: 'text', value: { text: value } } });

/**
 * An LlmCall with plain content: a system message, a user message, an optional tool result and
 * optional answers.
 */
export function llmCall(fixture: CallFixture): LlmCall {
  const hasContent =
    fixture.system !== undefined || fixture.user !== undefined || fixture.answers !== undefined;
  return create(LlmCallSchema, {
    tenantId: fixture.tenantId ?? 'tenant-a',
    callId: fixture.callId ?? 'call-1',
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    operation: Operation.CHAT,
    provider: 'openai',
    requestModel: 'gpt-4o',
    context: create(CallContextSchema, {
      serviceName: 'support-bot',
      agentName: fixture.agent ?? 'triage',
    }),
    contentCaptured: hasContent,
    ...(hasContent && {
      content: {
        case: 'plainContent',
        value: create(CallContentSchema, {
          inputMessages: [
            ...(fixture.system === undefined
              ? []
              : [{ role: Role.SYSTEM, parts: [text(fixture.system)] }]),
            ...(fixture.user === undefined
              ? []
              : [{ role: Role.USER, parts: [text(fixture.user)] }]),
            ...(fixture.toolResult === undefined
              ? []
              : [
                  {
                    role: Role.TOOL,
                    parts: [
                      {
                        kind: {
                          case: 'toolCallResponse',
                          value: { id: 't1', response: fixture.toolResult },
                        },
                      } satisfies Part,
                    ],
                  },
                ]),
          ],
          outputMessages: (fixture.answers ?? []).map((answer) => ({
            role: Role.ASSISTANT,
            parts: [
              ...(answer.text === undefined ? [] : [text(answer.text)]),
              ...(answer.toolCalls ?? []).map((call, index): Part => ({
                kind: { case: 'toolCall', value: { id: `c${index}`, ...call } },
              })),
            ],
          })),
          toolDefinitions: (fixture.tools ?? []).map((name) => ({ type: 'function', name })),
        }),
      },
    }),
  });
}
