import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  FinishReason,
  Role,
  type ChatMessageSchema,
  type MessagePartSchema,
} from '@understudy/contracts';
import { isObject, text, type Value, type ValueObject } from '../attributes.js';
import { asText, lookup, nativePartOf, roleOf, struct } from './genai-content.js';
import type { MapContext } from './mapper.js';

/**
 * OpenAI's Responses API (`responses.create`) in its own shapes, as instrumentations that do
 * not translate it record it: the request's `input`, text or a list of items (messages, the
 * model's earlier output items, tool outputs), and the response with its `output` items and
 * `status`. An item becomes one message, as the instrumentations that do translate it make
 * them; a response is one choice, so its output items make one message.
 */

type PartInit = MessageInitShape<typeof MessagePartSchema>;
type MessageInit = MessageInitShape<typeof ChatMessageSchema>;

const textPart = (value: string): PartInit => ({ kind: { case: 'text', value: { text: value } } });

/** Items the model produced that call a tool, and the outputs that answer them. */
const toolCallItems = new Set(['function_call', 'custom_tool_call']);
const toolOutputItems = new Set(['function_call_output', 'custom_tool_call_output']);

/** A reasoning item's summary and content blocks, `{type, text}` each, one part per block. */
function reasoningParts(item: ValueObject): PartInit[] {
  const blocks = [item['summary'], item['content']].flatMap((list) =>
    Array.isArray(list) ? list.filter(isObject) : [],
  );
  return blocks.map((block) => ({
    kind: { case: 'reasoning', value: { text: text(block['text']) ?? '' } },
  }));
}

/** A tool output: text, or a list of content blocks whose texts make it. */
function outputText(output: Value | undefined): string {
  if (Array.isArray(output) && output.every((block) => isObject(block) && 'text' in block)) {
    return output.map((block) => (isObject(block) ? (text(block['text']) ?? '') : '')).join('');
  }
  return asText(output);
}

/** A message item's content: text, or content blocks (`input_text`, `output_text`, …). */
function contentParts(content: Value | undefined, context: MapContext): PartInit[] {
  if (typeof content === 'string') return [textPart(content)];
  return Array.isArray(content) ? content.map((block) => nativePartOf(block, context)) : [];
}

/**
 * The parts of one item. Calls and outputs are matched by `call_id`; the item's own `id` is
 * only the item's. Built-in tools' items (`web_search_call`…) and references to stored items
 * are kept as they came.
 */
function itemParts(item: ValueObject, type: string, context: MapContext): PartInit[] {
  const callId = text(item['call_id']) ?? '';
  if (type === 'message') return contentParts(item['content'], context);
  if (type === 'reasoning') return reasoningParts(item);
  if (toolCallItems.has(type)) {
    const value = {
      id: callId,
      name: text(item['name']) ?? '',
      arguments: asText(item['arguments'] ?? item['input']),
    };
    return [{ kind: { case: 'toolCall', value } }];
  }
  if (toolOutputItems.has(type)) {
    const value = { id: callId, response: outputText(item['output']) };
    return [{ kind: { case: 'toolCallResponse', value } }];
  }
  const rest = Object.fromEntries(Object.entries(item).filter(([key]) => key !== 'type'));
  return [{ kind: { case: 'other', value: { type, content: struct(rest) } } }];
}

function itemRole(item: ValueObject, type: string): Role {
  if (toolOutputItems.has(type)) return Role.TOOL;
  if (type === 'message') return roleOf(text(item['role']));
  return Role.ASSISTANT;
}

/** Whether a value can be an input item: a message (`role`), or any typed item. */
export function isResponsesItem(value: Value): boolean {
  return (
    isObject(value) && (typeof value['role'] === 'string' || typeof value['type'] === 'string')
  );
}

/** One input item as a message; a message without `type` is a message item. */
export function responsesItemMessage(item: Value, context: MapContext): MessageInit {
  if (!isObject(item)) return { role: Role.USER, parts: contentParts(item, context) };
  const type = text(item['type']) ?? 'message';
  return { role: itemRole(item, type), parts: itemParts(item, type, context) };
}

/** The request's `input`: text is the user's message, items are a message each. */
export function responsesInputMessages(input: Value, context: MapContext): MessageInit[] {
  if (typeof input === 'string') return [{ role: Role.USER, parts: [textPart(input)] }];
  return Array.isArray(input) ? input.map((item) => responsesItemMessage(item, context)) : [];
}

/** A Responses API response object (`object: response`), e.g. a raw `output.value`. */
export function isResponse(value: Value | undefined): value is ValueObject {
  return isObject(value) && value['object'] === 'response';
}

const incompleteReasons: Readonly<Record<string, FinishReason>> = {
  max_output_tokens: FinishReason.LENGTH,
  content_filter: FinishReason.CONTENT_FILTER,
};

/**
 * Why the response ended, the Responses API's counterpart of a finish reason: `completed` is a
 * stop, or a tool call when the model called one; `incomplete` says why in `incomplete_details`.
 */
export function responsesFinishReason(response: ValueObject): FinishReason {
  const output = Array.isArray(response['output']) ? response['output'].filter(isObject) : [];
  switch (text(response['status'])) {
    case 'completed': {
      const called = output.some((item) => toolCallItems.has(text(item['type']) ?? ''));
      return called ? FinishReason.TOOL_CALLS : FinishReason.STOP;
    }
    case 'incomplete': {
      const details = isObject(response['incomplete_details'])
        ? response['incomplete_details']
        : {};
      return lookup(incompleteReasons, text(details['reason']) ?? '') ?? FinishReason.OTHER;
    }
    case 'failed':
      return FinishReason.ERROR;
    case undefined:
      return FinishReason.UNSPECIFIED;
    default:
      return FinishReason.OTHER;
  }
}

/** Messages of one response as its single output message, all of their parts in order. */
export function oneChoice(
  messages: readonly MessageInit[],
  finishReason: FinishReason,
): MessageInit[] {
  if (messages.length === 0) return [];
  return [
    {
      role: Role.ASSISTANT,
      parts: messages.flatMap((message) => message.parts ?? []),
      finishReason,
    },
  ];
}
