import type { JsonObject, MessageInitShape } from '@bufbuild/protobuf';
import {
  CallStatusCode,
  type LlmCallSchema,
  Operation,
  Role,
  SourceFormat,
  type MessagePartSchema,
} from '@understudy/contracts';
import { textOf, type ChatMessage, type ChatRequest } from './openai.js';

type LlmCallInit = MessageInitShape<typeof LlmCallSchema>;
type PartInit = MessageInitShape<typeof MessagePartSchema>;

const roles: Readonly<Record<string, Role>> = {
  system: Role.SYSTEM,
  developer: Role.DEVELOPER,
  user: Role.USER,
  assistant: Role.ASSISTANT,
  tool: Role.TOOL,
};

export interface CallIdentity {
  readonly tenantId: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly provider: string;
  readonly agentName?: string;
}

/**
 * The call as known before any model answers, for the clusterer's ClassifyCall: the same
 * normalized shape the collector builds from telemetry, so both classify alike.
 */
export function toLlmCall(request: ChatRequest, identity: CallIdentity): LlmCallInit {
  return {
    tenantId: identity.tenantId,
    traceId: identity.traceId,
    spanId: identity.spanId,
    operation: Operation.CHAT,
    provider: identity.provider,
    ...(identity.agentName !== undefined && { context: { agentName: identity.agentName } }),
    requestModel: request.model,
    parameters: {
      ...(request.temperature !== undefined && { temperature: request.temperature }),
      ...(request.top_p !== undefined && { topP: request.top_p }),
      ...((request.max_completion_tokens ?? request.max_tokens) !== undefined && {
        maxTokens: request.max_completion_tokens ?? request.max_tokens,
      }),
      toolChoice: toolChoiceOf(request.tool_choice),
    },
    contentCaptured: true,
    content: {
      case: 'plainContent',
      value: {
        inputMessages: request.messages.map((message) => ({
          role: roles[message.role] ?? Role.UNSPECIFIED,
          name: message.name ?? '',
          parts: partsOf(message),
        })),
        toolDefinitions: (request.tools ?? []).flatMap((tool) =>
          tool.function === undefined
            ? []
            : [
                {
                  type: tool.type,
                  name: tool.function.name,
                  description: tool.function.description ?? '',
                  ...(tool.function.parameters !== undefined && {
                    parameters: tool.function.parameters as JsonObject,
                  }),
                },
              ],
        ),
      },
    },
    status: { code: CallStatusCode.OK },
    source: { format: SourceFormat.GATEWAY },
  };
}

function partsOf(message: ChatMessage): PartInit[] {
  const parts: PartInit[] = [];
  const text = textOf(message.content);
  if (message.role === 'tool') {
    parts.push({
      kind: {
        case: 'toolCallResponse',
        value: { id: message.tool_call_id ?? '', response: text },
      },
    });
  } else if (text !== '') {
    parts.push({ kind: { case: 'text', value: { text } } });
  }
  for (const call of message.tool_calls ?? []) {
    parts.push({
      kind: {
        case: 'toolCall',
        value: { id: call.id, name: call.function.name, arguments: call.function.arguments },
      },
    });
  }
  return parts;
}

/** `auto`, `none`, `required`, or the one tool's name, as LlmCall records it. */
function toolChoiceOf(choice: unknown): string {
  if (typeof choice === 'string') return choice;
  if (typeof choice === 'object' && choice !== null && 'function' in choice) {
    const fn: unknown = choice.function;
    if (typeof fn === 'object' && fn !== null && 'name' in fn && typeof fn.name === 'string') {
      return fn.name;
    }
  }
  return '';
}
