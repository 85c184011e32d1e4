import type { JsonObject, MessageInitShape } from '@bufbuild/protobuf';
import {
  FinishReason,
  Modality,
  Role,
  type ChatMessageSchema,
  type MessagePartSchema,
  type ToolDefinitionSchema,
} from '@understudy/contracts';
import { isObject, text, toJsonText, type Value, type ValueObject } from '../attributes.js';

type PartInit = MessageInitShape<typeof MessagePartSchema>;
type MessageInit = MessageInitShape<typeof ChatMessageSchema>;
type ToolInit = MessageInitShape<typeof ToolDefinitionSchema>;

const roles: Record<string, Role> = {
  system: Role.SYSTEM,
  developer: Role.DEVELOPER,
  user: Role.USER,
  assistant: Role.ASSISTANT,
  tool: Role.TOOL,
};

const finishReasons: Record<string, FinishReason> = {
  stop: FinishReason.STOP,
  end_turn: FinishReason.STOP,
  length: FinishReason.LENGTH,
  max_tokens: FinishReason.LENGTH,
  tool_call: FinishReason.TOOL_CALLS,
  tool_calls: FinishReason.TOOL_CALLS,
  tool_use: FinishReason.TOOL_CALLS,
  content_filter: FinishReason.CONTENT_FILTER,
  error: FinishReason.ERROR,
};

const modalities: Record<string, Modality> = {
  image: Modality.IMAGE,
  audio: Modality.AUDIO,
  video: Modality.VIDEO,
  document: Modality.DOCUMENT,
};

export function finishReasonOf(reason: string | undefined): FinishReason {
  if (reason === undefined || reason === '') return FinishReason.UNSPECIFIED;
  return finishReasons[reason.toLowerCase()] ?? FinishReason.OTHER;
}

/** Plain data as a google.protobuf.Struct (bytes as base64). */
function struct(value: ValueObject): JsonObject {
  return JSON.parse(toJsonText(value)) as JsonObject;
}

/** Tool arguments and results are kept as text: JSON text for structured values. */
function asText(value: Value | undefined): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : toJsonText(value);
}

function mediaOf(part: ValueObject): PartInit {
  const modality = modalities[text(part['modality'])?.toLowerCase() ?? ''] ?? Modality.UNSPECIFIED;
  const mimeType = text(part['mime_type']) ?? '';
  const uri = text(part['uri']);
  const fileId = text(part['file_id']);
  // Inline blobs are not forwarded: content travels by reference only, and moving blobs to the
  // object store is not built yet, so the part records what it was without its bytes.
  const location =
    uri !== undefined
      ? { case: 'uri' as const, value: uri }
      : fileId !== undefined
        ? { case: 'fileId' as const, value: fileId }
        : undefined;
  return { kind: { case: 'media', value: { modality, mimeType, ...(location && { location }) } } };
}

export function partOf(part: Value): PartInit {
  if (typeof part === 'string') return { kind: { case: 'text', value: { text: part } } };
  if (!isObject(part)) return { kind: { case: 'other', value: { type: 'unknown' } } };
  const type = text(part['type']) ?? '';
  const content = text(part['content']) ?? '';
  switch (type) {
    case 'text':
      return { kind: { case: 'text', value: { text: content } } };
    case 'reasoning':
      return { kind: { case: 'reasoning', value: { text: content } } };
    case 'refusal':
      return { kind: { case: 'refusal', value: { text: content } } };
    case 'tool_call':
      return {
        kind: {
          case: 'toolCall',
          value: {
            id: text(part['id']) ?? '',
            name: text(part['name']) ?? '',
            arguments: asText(part['arguments']),
          },
        },
      };
    case 'tool_call_response':
      return {
        kind: {
          case: 'toolCallResponse',
          value: {
            id: text(part['id']) ?? '',
            response: asText(part['response'] ?? part['result']),
          },
        },
      };
    case 'blob':
    case 'uri':
    case 'file':
      return mediaOf(part);
    default: {
      const rest = Object.fromEntries(Object.entries(part).filter(([name]) => name !== 'type'));
      return { kind: { case: 'other', value: { type, content: struct(rest) } } };
    }
  }
}

export function partsOf(parts: Value | undefined): PartInit[] {
  if (typeof parts === 'string') return [partOf(parts)];
  return Array.isArray(parts) ? parts.map(partOf) : [];
}

export function messageOf(message: Value): MessageInit {
  if (!isObject(message)) return { parts: partsOf(message) };
  return {
    role: roles[text(message['role'])?.toLowerCase() ?? ''] ?? Role.UNSPECIFIED,
    name: text(message['name']) ?? '',
    parts: partsOf(message['parts'] ?? message['content']),
    finishReason: finishReasonOf(text(message['finish_reason'])),
  };
}

export function messagesOf(messages: Value | undefined): MessageInit[] | undefined {
  return Array.isArray(messages) ? messages.map(messageOf) : undefined;
}

/** Semconv's flat `{type, name, description, parameters}`, or OpenAI's `{type, function: {…}}`. */
export function toolOf(tool: Value): ToolInit | undefined {
  if (!isObject(tool)) return undefined;
  const fn = isObject(tool['function']) ? tool['function'] : tool;
  const parameters = fn['parameters'];
  return {
    type: text(tool['type']) ?? 'function',
    name: text(fn['name']) ?? '',
    description: text(fn['description']) ?? '',
    ...(isObject(parameters) && { parameters: struct(parameters) }),
  };
}

export function toolsOf(tools: Value | undefined): ToolInit[] | undefined {
  if (!Array.isArray(tools)) return undefined;
  return tools.map(toolOf).filter((tool) => tool !== undefined);
}
