import type { JsonObject } from '@bufbuild/protobuf';
import {
  CallStatusCode,
  Role,
  type CallContent,
  type ChatMessage as CallMessage,
  type LlmCall,
  type MessagePart,
  type ToolDefinition,
} from '@understudy/contracts';
import { UnderstudyError } from '@understudy/errors';
import { contentOf, type ContentKeyring } from '@understudy/tenancy';

/** One row of OpenAI's chat fine-tuning format. */
export interface ChatExample {
  readonly messages: readonly ChatMessage[];
  readonly tools?: readonly ChatTool[];
}

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  readonly content?: string;
  readonly tool_calls?: readonly ChatToolCall[];
  readonly tool_call_id?: string;
}

export interface ChatToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export interface ChatTool {
  readonly type: 'function';
  readonly function: {
    readonly name: string;
    readonly description?: string;
    readonly parameters?: JsonObject;
  };
}

/**
 * Why a call cannot become an example; the manifest counts each. `encrypted`: content that the
 * builder's keys do not open (no keys configured, or the key was removed from the keys file).
 */
export const exclusionReasons = [
  'not_captured',
  'no_content',
  'encrypted',
  'error',
  'no_output',
  'unsupported_content',
] as const;
export type ExclusionReason = (typeof exclusionReasons)[number];

export type Rendered =
  | { readonly ok: true; readonly example: ChatExample }
  | { readonly ok: false; readonly reason: ExclusionReason };

class Unsupported extends Error {}

/**
 * A captured call as a training example: system instructions and input messages as the prompt,
 * the first choice as the final assistant message (the teacher's answer), and the offered tools.
 * Encrypted content is opened with the keyring, in memory.
 */
export function renderCall(call: LlmCall, keyring?: ContentKeyring): Rendered {
  if (call.status?.code === CallStatusCode.ERROR) return { ok: false, reason: 'error' };
  let content: CallContent | undefined;
  try {
    content = contentOf(call, keyring);
  } catch (error) {
    // Keys dropped from the file make what they sealed unreadable on purpose: leave it out.
    if (error instanceof UnderstudyError) return { ok: false, reason: 'encrypted' };
    throw error;
  }
  if (!call.contentCaptured || content === undefined) return { ok: false, reason: 'no_content' };
  const { systemInstructions, inputMessages, outputMessages, toolDefinitions } = content;
  const answer = outputMessages[0];
  if (answer === undefined || !isAssistant(answer)) return { ok: false, reason: 'no_output' };
  try {
    const instructions = texts(systemInstructions);
    const messages: ChatMessage[] = [
      ...(instructions === undefined ? [] : [{ role: 'system' as const, content: instructions }]),
      ...inputMessages.flatMap((message) => renderMessage(message)),
    ];
    const output = renderMessage(answer, 'assistant');
    const final = output[0];
    if (output.length !== 1 || final === undefined || isEmpty(final)) {
      return { ok: false, reason: 'no_output' };
    }
    const tools = toolDefinitions.map(renderTool);
    return {
      ok: true,
      example: { messages: [...messages, final], ...(tools.length > 0 && { tools }) },
    };
  } catch (error) {
    if (error instanceof Unsupported) return { ok: false, reason: 'unsupported_content' };
    throw error;
  }
}

function isAssistant(message: CallMessage): boolean {
  return message.role === Role.ASSISTANT || message.role === Role.UNSPECIFIED;
}

function isEmpty(message: ChatMessage): boolean {
  return (message.content ?? '') === '' && (message.tool_calls?.length ?? 0) === 0;
}

/**
 * One source message as chat messages. Tool results become `tool` messages of their own, as
 * OpenAI's format requires, even where a provider carried them inside a user message.
 */
function renderMessage(
  message: CallMessage,
  role: ChatMessage['role'] = roleOf(message.role),
): ChatMessage[] {
  const text: string[] = [];
  const toolCalls: ChatToolCall[] = [];
  const results: ChatMessage[] = [];
  for (const { kind } of message.parts) {
    switch (kind.case) {
      case 'text':
      case 'refusal':
        text.push(kind.value.text);
        break;
      case 'reasoning':
        // Hidden reasoning has no place in the chat format; the answer stands on its own.
        break;
      case 'toolCall':
        toolCalls.push({
          id: kind.value.id,
          type: 'function',
          function: { name: kind.value.name, arguments: kind.value.arguments },
        });
        break;
      case 'toolCallResponse':
        results.push({ role: 'tool', tool_call_id: kind.value.id, content: kind.value.response });
        break;
      case 'media':
      case 'other':
      case undefined:
        throw new Unsupported();
    }
  }
  const content = text.length > 0 ? text.join('\n') : undefined;
  if (toolCalls.length > 0 && role !== 'assistant') throw new Unsupported();
  if (role === 'tool') {
    // A tool message without the id of the call it answers cannot be placed in the dialogue.
    if (results.length === 0 || content !== undefined) throw new Unsupported();
    return results;
  }
  if (content === undefined && toolCalls.length === 0 && results.length > 0) return results;
  return [
    ...results,
    {
      role,
      ...(content !== undefined || toolCalls.length === 0 ? { content: content ?? '' } : {}),
      ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
    },
  ];
}

function roleOf(role: Role): ChatMessage['role'] {
  switch (role) {
    case Role.SYSTEM:
    case Role.DEVELOPER:
      return 'system';
    case Role.USER:
      return 'user';
    case Role.ASSISTANT:
      return 'assistant';
    case Role.TOOL:
      return 'tool';
    case Role.UNSPECIFIED:
      throw new Unsupported();
  }
}

function texts(parts: readonly MessagePart[]): string | undefined {
  const found = parts.map(({ kind }) => {
    if (kind.case === 'text') return kind.value.text;
    throw new Unsupported();
  });
  return found.length > 0 ? found.join('\n') : undefined;
}

function renderTool(tool: ToolDefinition): ChatTool {
  // Provider built-in tools (web search, code interpreter…) have no chat-format equivalent.
  if (tool.type !== '' && tool.type !== 'function') throw new Unsupported();
  return {
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description !== '' && { description: tool.description }),
      ...(tool.parameters !== undefined && { parameters: tool.parameters }),
    },
  };
}
