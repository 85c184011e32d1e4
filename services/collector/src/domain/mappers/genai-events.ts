import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  Operation,
  Role,
  SourceFormat,
  type ChatMessageSchema,
  type MessagePartSchema,
  type otlpTrace,
} from '@understudy/contracts';
import {
  attributesOf,
  isObject,
  structured,
  text,
  type Value,
  type ValueObject,
} from '../attributes.js';
import {
  callOperations,
  latestSemconvKeys,
  semconvCall,
  semconvContext,
  streamingOf,
} from './genai-attributes.js';
import { asText, finishReasonOf, lookup, nativePartOf, roleOf } from './genai-content.js';
import type { MapContext, MappedCall, SourceSpan, SpanMapper } from './mapper.js';
import { int32 } from './numbers.js';

type PartInit = MessageInitShape<typeof MessagePartSchema>;
type MessageInit = MessageInitShape<typeof ChatMessageSchema>;

/** Input message events by name, and the role each stands for. */
const messageEvents: Readonly<Record<string, Role>> = {
  'gen_ai.system.message': Role.SYSTEM,
  // Not in semconv, but the Python openai-v2 instrumentation names its events after any role.
  'gen_ai.developer.message': Role.DEVELOPER,
  'gen_ai.user.message': Role.USER,
  'gen_ai.assistant.message': Role.ASSISTANT,
  'gen_ai.tool.message': Role.TOOL,
};
const choiceEvent = 'gen_ai.choice';

/** Semconv 1.26 span events, holding every prompt or completion message in one attribute. */
const promptEvent = 'gen_ai.content.prompt';
const completionEvent = 'gen_ai.content.completion';

/** What one content event carries: an input message, or the output message of one choice. */
export type EventMessage =
  | { readonly output: false; readonly message: MessageInit }
  | { readonly output: true; readonly choiceIndex: number; readonly message: MessageInit };

export function isContentEvent(name: string): boolean {
  return name === choiceEvent || lookup(messageEvents, name) !== undefined;
}

/** An event body: a map, JSON text of one (some SDKs), or bare content. */
function bodyOf(body: Value | undefined): ValueObject {
  const parsed = typeof body === 'string' ? (structured(body) ?? body) : body;
  if (isObject(parsed)) return parsed;
  return parsed === undefined || parsed === null ? {} : { content: parsed };
}

const textPart = (value: string): PartInit => ({ kind: { case: 'text', value: { text: value } } });

/** An empty map: how OpenLLMetry's Python events write a message content of `None`. */
const emptyMap = (content: Value) => isObject(content) && Object.keys(content).length === 0;

function contentParts(content: Value | undefined, context: MapContext): PartInit[] {
  if (content === undefined || content === null || emptyMap(content)) return [];
  if (typeof content === 'string') return [textPart(content)];
  return (Array.isArray(content) ? content : [content]).map((part) => nativePartOf(part, context));
}

/**
 * OpenAI's tool calls, `{id, type, function: {name, arguments}}`. With content capture off,
 * instrumentations keep the id and name but drop the arguments: such a call records no content.
 */
function toolCallParts(calls: Value | undefined): PartInit[] {
  if (!Array.isArray(calls)) return [];
  return calls.filter(isObject).flatMap((call): PartInit[] => {
    const fn = isObject(call['function']) ? call['function'] : call;
    const args = fn['arguments'];
    if (args === undefined || args === null) return [];
    const value = {
      id: text(call['id']) ?? '',
      name: text(fn['name']) ?? '',
      arguments: asText(args),
    };
    return [{ kind: { case: 'toolCall', value } }];
  });
}

/** A tool result's text; OpenAI lets it be a list of text parts. */
function responseText(content: Value): string {
  if (Array.isArray(content) && content.every((part) => isObject(part) && 'text' in part)) {
    return content.map((part) => (isObject(part) ? (text(part['text']) ?? '') : '')).join('');
  }
  return asText(content);
}

/** A tool message answers the tool call `id`; without content (capture off) it records none. */
function toolResponseParts(body: ValueObject): PartInit[] {
  const content = body['content'];
  if (content === undefined || content === null) return [];
  const value = {
    id: text(body['id'] ?? body['tool_call_id']) ?? '',
    response: responseText(content),
  };
  return [{ kind: { case: 'toolCallResponse', value } }];
}

/** `{role?, content?, tool_calls?, id?}`: the body of a message event, or a choice's message. */
function messageOf(body: ValueObject, role: Role, context: MapContext): MessageInit {
  const named = roleOf(text(body['role']));
  const messageRole = named === Role.UNSPECIFIED ? role : named;
  const parts =
    messageRole === Role.TOOL
      ? toolResponseParts(body)
      : [...contentParts(body['content'], context), ...toolCallParts(body['tool_calls'])];
  return { role: messageRole, name: text(body['name']) ?? '', parts };
}

/**
 * `{index, finish_reason, message}`, or a 1.26 completion message with its own finish reason.
 * OpenLLMetry's Python events put the choice's `tool_calls` beside its message, not in it.
 */
function choiceOf(body: ValueObject, message: ValueObject, index: number, context: MapContext) {
  const finishReason = finishReasonOf(text(body['finish_reason']));
  const choiceIndex = Math.max(int32(body['index']) ?? index, 0);
  const toolCalls = message['tool_calls'] ?? body['tool_calls'] ?? null;
  const output = {
    ...messageOf({ ...message, tool_calls: toolCalls }, Role.ASSISTANT, context),
    finishReason,
  };
  return { output: true, choiceIndex, message: output } as const;
}

/**
 * A content event (see `isContentEvent`) as the message it carries. Bodies without content
 * (capture off) still give the message, with its role and no parts.
 */
export function eventMessageOf(
  name: string,
  body: Value | undefined,
  context: MapContext,
): EventMessage {
  const fields = bodyOf(body);
  if (name === choiceEvent) {
    const message = isObject(fields['message']) ? fields['message'] : {};
    return choiceOf(fields, message, 0, context);
  }
  const role = lookup(messageEvents, name) ?? Role.UNSPECIFIED;
  return { output: false, message: messageOf(fields, role, context) };
}

/** The messages of a 1.26 `gen_ai.prompt`/`gen_ai.completion` attribute: JSON, or bare text. */
function messageList(value: Value | undefined): ValueObject[] {
  const parsed = structured(value) ?? value;
  return (Array.isArray(parsed) ? parsed : [parsed])
    .filter((item) => item !== undefined && item !== null)
    .map(bodyOf);
}

/**
 * The content a span event carries: the 1.26 prompt and completion events, or the later
 * message events recorded on the span (their body in `gen_ai.event.content`, as Azure's SDKs
 * write it, or as the event's own attributes).
 */
function spanEventMessages(event: otlpTrace.Span_Event, context: MapContext): EventMessage[] {
  const a = attributesOf(event.attributes);
  switch (event.name) {
    case promptEvent:
      return messageList(a['gen_ai.prompt']).map((message) => ({
        output: false,
        message: messageOf(message, Role.USER, context),
      }));
    case completionEvent:
      return messageList(a['gen_ai.completion']).map((message, index) =>
        choiceOf(message, message, index, context),
      );
    default:
      return isContentEvent(event.name)
        ? [eventMessageOf(event.name, a['gen_ai.event.content'] ?? a, context)]
        : [];
  }
}

/** Messages in event order, outputs by choice index. Content that has no part was not captured. */
function contentOf(
  events: readonly EventMessage[],
): Pick<MappedCall['call'], 'contentCaptured' | 'content'> {
  const inputMessages: MessageInit[] = [];
  const outputs: { index: number; message: MessageInit }[] = [];
  for (const event of events) {
    if (event.output) outputs.push({ index: event.choiceIndex, message: event.message });
    else inputMessages.push(event.message);
  }
  const outputMessages = outputs.sort((a, b) => a.index - b.index).map(({ message }) => message);
  const captured = [...inputMessages, ...outputMessages].some(
    (message) => (message.parts?.length ?? 0) > 0,
  );
  if (!captured) return { contentCaptured: false };
  return {
    contentCaptured: true,
    content: { case: 'plainContent', value: { inputMessages, outputMessages } },
  };
}

/**
 * The call a ≤ 1.36 span records. A span with any ≥ 1.37 attribute (`gen_ai.provider.name`,
 * `gen_ai.input.messages`…) is not one. Before 1.27 there was no `gen_ai.operation.name`: a span
 * with `gen_ai.system` whose name starts with the operation (`chat gpt-4`), or that holds the
 * 1.26 content events, is a chat call.
 */
function operationOf({ span, attributes: a }: SourceSpan): Operation | undefined {
  if (latestSemconvKeys.some((key) => a[key] !== undefined)) return undefined;
  const name = text(a['gen_ai.operation.name']);
  if (name !== undefined) return lookup(callOperations, name);
  if (text(a['gen_ai.system']) === undefined) return undefined;
  const named = lookup(callOperations, span.name.split(' ')[0] ?? '');
  if (named !== undefined) return named;
  const legacy = span.events.some(
    (event) => event.name === promptEvent || event.name === completionEvent,
  );
  return legacy ? Operation.CHAT : undefined;
}

/**
 * OTel GenAI semantic conventions ≤ 1.36: the call in span attributes, its content in events:
 * span events (1.26 `gen_ai.content.prompt`/`completion`, or message events some SDKs record
 * on the span), else log records the call must wait for (`genAiLogEvents`). Embeddings have no
 * content events, so they wait for none.
 */
export const genAiEvents: SpanMapper = {
  format: SourceFormat.OTEL_GENAI_EVENTS,

  recognises(source: SourceSpan): boolean {
    return operationOf(source) !== undefined;
  },

  map(source: SourceSpan, context: MapContext): MappedCall {
    const a = source.attributes;
    const operation = operationOf(source) ?? Operation.UNSPECIFIED;
    const events = source.span.events.flatMap((event) => spanEventMessages(event, context));
    const awaitsEvents = events.length === 0 && operation !== Operation.EMBEDDINGS;
    return {
      call: { ...semconvCall(a, operation), ...contentOf(events) },
      context: semconvContext(a),
      ...streamingOf(source),
      ...(awaitsEvents && { awaitsEvents }),
    };
  },
};
