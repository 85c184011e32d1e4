import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  FinishReason,
  Modality,
  Operation,
  Role,
  SourceFormat,
  StepKind,
  type ChatMessageSchema,
  type MessagePartSchema,
} from '@understudy/contracts';
import {
  decimal,
  defined,
  isObject,
  structured,
  text,
  texts,
  type ValueObject,
} from '../attributes.js';
import { hasIndexed, indexed } from './flattened.js';
import {
  asText,
  finishReasonOf,
  mediaAt,
  responseFormatOf,
  roleOf,
  struct,
  toolChoiceOf,
  toolOf,
} from './genai-content.js';
import type { MapContext, MappedCall, MappedStep, SourceSpan, SpanMapper } from './mapper.js';
import { int32, int64 } from './numbers.js';
import { isResponse, oneChoice, responsesFinishReason } from './openai-responses.js';
import { providerName } from './providers.js';

type PartInit = MessageInitShape<typeof MessagePartSchema>;
type MessageInit = MessageInitShape<typeof ChatMessageSchema>;

/** What OpenInference's trace config writes in place of hidden text (`OPENINFERENCE_HIDE_*`). */
const redacted = '__REDACTED__';

/** The span event OpenInference's Python instrumentations record at a stream's first chunk. */
const firstTokenEvent = 'First Token Stream Event';

const inputMessages = 'llm.input_messages.';
const outputMessages = 'llm.output_messages.';
/** The legacy completions API: `llm.prompts.N.prompt.text`, `llm.choices.N.completion.text`. */
const prompts = 'llm.prompts.';
const choices = 'llm.choices.';
const embeddings = 'embedding.embeddings.';
const contentPrefixes = [inputMessages, outputMessages, prompts, choices, embeddings];

/**
 * Invocation parameters mapped to their own fields, and those left out of `other`: content
 * (messages, prompts, instructions, tools) and who the end user is, because request parameters
 * are neither redacted nor encrypted.
 */
const notOther = new Set([
  'model',
  'temperature',
  'max_tokens',
  'max_completion_tokens',
  'max_output_tokens',
  'top_p',
  'top_k',
  'stop',
  'stop_sequences',
  'seed',
  'frequency_penalty',
  'presence_penalty',
  'n',
  'response_format',
  'tool_choice',
  'stream',
  'messages',
  'input',
  'prompt',
  'instructions',
  'system',
  'tools',
  'functions',
  'user',
]);

function kindOf(a: ValueObject): string {
  return (text(a['openinference.span.kind']) ?? '').toUpperCase();
}

const textPart = (value: string): PartInit => ({ kind: { case: 'text', value: { text: value } } });

/** `llm.invocation_parameters`: the provider's request body without its messages, as JSON. */
function invocationOf(a: ValueObject): ValueObject {
  const parsed = structured(a['llm.invocation_parameters'] ?? a['embedding.invocation_parameters']);
  return isObject(parsed) ? parsed : {};
}

function parameters(p: ValueObject): MappedCall['call']['parameters'] {
  const seed = int64(p['seed']);
  const textOptions = isObject(p['text']) ? p['text'] : {};
  const other = Object.fromEntries(Object.entries(p).filter(([key]) => !notOther.has(key)));
  return {
    ...defined({
      temperature: decimal(p['temperature']),
      maxTokens: int32(p['max_tokens'] ?? p['max_completion_tokens'] ?? p['max_output_tokens']),
      topP: decimal(p['top_p']),
      topK: int32(p['top_k']),
      seed,
      frequencyPenalty: decimal(p['frequency_penalty']),
      presencePenalty: decimal(p['presence_penalty']),
      choiceCount: int32(p['n']),
      responseFormat: responseFormatOf(p['response_format'] ?? textOptions['format']),
    }),
    stopSequences: texts(p['stop'] ?? p['stop_sequences']) ?? [],
    toolChoice: toolChoiceOf(p['tool_choice']),
    ...(Object.keys(other).length > 0 && { other: struct(other) }),
  };
}

function usage(a: ValueObject): MappedCall['call']['usage'] {
  return defined({
    inputTokens: int32(a['llm.token_count.prompt']),
    outputTokens: int32(a['llm.token_count.completion']),
    cachedInputTokens: int32(a['llm.token_count.prompt_details.cache_read']),
    cacheCreationInputTokens: int32(a['llm.token_count.prompt_details.cache_write']),
    reasoningTokens: int32(a['llm.token_count.completion_details.reasoning']),
  });
}

/** `llm.provider` (`openai`, `aws`, `google`…), else `llm.system`, as semconv names them. */
function provider(a: ValueObject): string {
  const named = text(a['llm.provider']);
  const system = text(a['llm.system']);
  if (named?.toLowerCase() === 'google' && system?.toLowerCase() === 'vertexai') {
    return 'gcp.vertex_ai';
  }
  return providerName(named ?? system ?? '');
}

/**
 * The JS instrumentation writes the requested model into `llm.model_name` and overwrites it with
 * the model that answered once a (non-streamed) response arrives; the request model stays in
 * the invocation parameters. A name equal to the requested one tells nothing about the answer.
 */
function models(
  a: ValueObject,
  p: ValueObject,
): Pick<MappedCall['call'], 'requestModel' | 'responseModel'> {
  const requested = text(a['llm.request.model_name']) ?? text(p['model']);
  const named = text(a['llm.model_name']) ?? text(a['embedding.model_name']);
  const answered = text(a['llm.response.model_name']);
  if (requested === undefined) return { requestModel: named ?? '', responseModel: answered ?? '' };
  const responseModel = answered ?? (named !== undefined && named !== requested ? named : '');
  return { requestModel: requested, responseModel };
}

/** `output.value` when it is the provider's JSON response. */
function jsonOutput(a: ValueObject): ValueObject | undefined {
  if (text(a['output.mime_type']) !== 'application/json') return undefined;
  const body = structured(a['output.value']);
  return isObject(body) ? body : undefined;
}

/** Media at a URL, or a media part that only says what it was when the URL was hidden. */
function media(
  url: string | undefined,
  mimeType: string,
  modality: Modality,
  context: MapContext,
): PartInit {
  if (url !== undefined && url !== redacted) return mediaAt(url, mimeType, context, modality);
  return { kind: { case: 'media' as const, value: { modality, mimeType } } };
}

function toolCallPart(item: ValueObject): PartInit {
  const value = {
    id: text(item['tool_call.id']) ?? '',
    name: text(item['tool_call.function.name']) ?? '',
    arguments: asText(item['tool_call.function.arguments']),
  };
  return { kind: { case: 'toolCall', value } };
}

/** One `message.contents.N.message_content.*` item. */
function contentPart(item: ValueObject, context: MapContext): PartInit {
  const type = text(item['message_content.type']) ?? '';
  const body = text(item['message_content.text']) ?? '';
  switch (type) {
    case 'text':
    case 'input_text':
    case 'output_text':
      return textPart(body);
    case 'reasoning':
      return { kind: { case: 'reasoning', value: { text: body } } };
    case 'refusal':
      return { kind: { case: 'refusal', value: { text: body } } };
    case 'image':
    case 'input_image':
      return media(text(item['message_content.image.image.url']), '', Modality.IMAGE, context);
    case 'audio': {
      const mimeType = text(item['message_content.audio.audio.mime_type']) ?? '';
      return media(
        text(item['message_content.audio.audio.url']),
        mimeType,
        Modality.AUDIO,
        context,
      );
    }
    case 'video':
      return media(text(item['message_content.video.video.url']), '', Modality.VIDEO, context);
    case 'tool_use':
      return toolCallPart(item);
    default: {
      const content = struct(
        Object.fromEntries(Object.entries(item).filter(([k]) => k !== 'message_content.type')),
      );
      return { kind: { case: 'other', value: { type, content } } };
    }
  }
}

/** A tool call that `message.contents` already holds as an ordered `tool_use` item. */
function sameCall(a: PartInit, b: PartInit): boolean {
  return (
    a.kind?.case === 'toolCall' &&
    b.kind?.case === 'toolCall' &&
    (a.kind.value.id ?? '') === (b.kind.value.id ?? '') &&
    (a.kind.value.name ?? '') === (b.kind.value.name ?? '')
  );
}

/** The tool calls of a message: `message.tool_calls.N.tool_call.*`, or the older function call. */
function toolCallParts(fields: ValueObject): PartInit[] {
  const calls = indexed(fields, 'message.tool_calls.').map(toolCallPart);
  const functionName = text(fields['message.function_call_name']);
  if (functionName === undefined) return calls;
  const args = asText(fields['message.function_call_arguments_json']);
  return [
    ...calls,
    { kind: { case: 'toolCall', value: { id: '', name: functionName, arguments: args } } },
  ];
}

/** One `llm.input_messages.N` / `llm.output_messages.N` message, keys without that prefix. */
function messageOf(fields: ValueObject, context: MapContext): MessageInit {
  const role = (text(fields['message.role']) ?? '').toLowerCase();
  const content = text(fields['message.content']);
  const items = indexed(fields, 'message.contents.').map((item) => contentPart(item, context));
  const name = text(fields['message.name']) ?? '';
  // A tool result answers the call `message.tool_call_id`; the deprecated `function` role
  // answered the function it names.
  if (role === 'tool' || role === 'function') {
    const id = text(fields['message.tool_call_id']) ?? (role === 'function' ? name : '');
    const parts = items.map((part) =>
      part.kind?.case === 'text' ? (part.kind.value.text ?? '') : '',
    );
    const response = content ?? parts.join('');
    return {
      role: Role.TOOL,
      name,
      parts: [{ kind: { case: 'toolCallResponse', value: { id, response } } }],
    };
  }
  const parts = content === undefined || content === '' ? items : [textPart(content), ...items];
  const calls = toolCallParts(fields).filter((call) => !parts.some((part) => sameCall(part, call)));
  return { role: roleOf(role), name, parts: [...parts, ...calls] };
}

function messagesOf(a: ValueObject, prefix: string, context: MapContext): MessageInit[] {
  return indexed(a, prefix).map((fields) => messageOf(fields, context));
}

/** `input.value`/`output.value` as one message, when they are plain text (no JSON body). */
function plainValue(a: ValueObject, side: 'input' | 'output', role: Role): MessageInit[] {
  const value = text(a[`${side}.value`]);
  const mimeType = text(a[`${side}.mime_type`]) ?? 'text/plain';
  if (value === undefined || value === redacted || mimeType !== 'text/plain') return [];
  return [{ role, parts: [textPart(value)] }];
}

/** The texts of a flattened list (`llm.prompts.N.prompt.text`…), one text part each. */
function textParts(a: ValueObject, prefix: string, key: string): PartInit[] {
  return indexed(a, prefix).flatMap((item) => {
    const value = text(item[key]);
    return value === undefined ? [] : [textPart(value)];
  });
}

/**
 * The input messages. Without `llm.input_messages`: the legacy completions API's prompts, an
 * embedding span's texts (one user message, a part per text), else a plain-text `input.value`,
 * where the JS instrumentation puts a completion's prompt. A JSON `input.value` is the
 * provider's raw request, which the structured attributes already describe: it is not parsed.
 */
function inputOf(a: ValueObject, context: MapContext): MessageInit[] {
  if (hasIndexed(a, inputMessages)) return messagesOf(a, inputMessages, context);
  const promptParts = textParts(a, prompts, 'prompt.text');
  if (promptParts.length > 0)
    return promptParts.map((part) => ({ role: Role.USER, parts: [part] }));
  const embedded = textParts(a, embeddings, 'embedding.text');
  if (embedded.length > 0) return [{ role: Role.USER, parts: embedded }];
  return plainValue(a, 'input', Role.USER);
}

/** The output messages, likewise: `llm.output_messages`, the legacy choices, `output.value`. */
function outputOf(a: ValueObject, context: MapContext): MessageInit[] {
  if (hasIndexed(a, outputMessages)) return messagesOf(a, outputMessages, context);
  const choiceParts = textParts(a, choices, 'completion.text');
  if (choiceParts.length > 0) {
    return choiceParts.map((part) => ({ role: Role.ASSISTANT, parts: [part] }));
  }
  return plainValue(a, 'output', Role.ASSISTANT);
}

/** `llm.tools.N.tool.json_schema` (the provider's own tool definition), or its name and parameters. */
function toolDefinitions(a: ValueObject) {
  return indexed(a, 'llm.tools.').flatMap((item) => {
    const schema = structured(item['tool.json_schema']);
    const parameters = structured(item['tool.parameters']);
    if (isObject(schema)) return toolOf(schema) ?? [];
    return {
      type: 'function',
      name: text(item['tool.name']) ?? '',
      description: text(item['tool.description']) ?? '',
      ...(isObject(parameters) && { parameters: struct(parameters) }),
    };
  });
}

/**
 * Text hidden by the trace config (`__REDACTED__`) makes the call's content unusable, so it
 * counts as not captured. A hidden image URL only loses the image: the part stays, without it.
 */
function hidden(a: ValueObject): boolean {
  return Object.entries(a).some(
    ([key, value]) =>
      value === redacted &&
      !key.endsWith('.url') &&
      contentPrefixes.some((prefix) => key.startsWith(prefix)),
  );
}

/**
 * Why each choice ended: `llm.finish_reason`, the reason of the first choice. A Responses API
 * call has none; its response's status says it.
 */
function finishReasonsOf(a: ValueObject, response: ValueObject | undefined): FinishReason[] {
  if (response !== undefined) {
    const reason = responsesFinishReason(response);
    return reason === FinishReason.UNSPECIFIED ? [] : [reason];
  }
  return (texts(a['llm.finish_reason']) ?? []).map(finishReasonOf);
}

/**
 * The content. A Responses API response is one choice, but the instrumentations write each of
 * its output items (reasoning, a function call, a message) as an output message of its own:
 * they become the one message of that choice.
 */
function content(
  a: ValueObject,
  context: MapContext,
  response: ValueObject | undefined,
  finishReasons: readonly FinishReason[],
): Pick<MappedCall['call'], 'contentCaptured' | 'content'> {
  const input = inputOf(a, context);
  const output = outputOf(a, context);
  const tools = toolDefinitions(a);
  if (hidden(a) || input.length + output.length + tools.length === 0) {
    return { contentCaptured: false };
  }
  const outputMessages =
    response === undefined
      ? output.map((message, index) => ({
          ...message,
          finishReason: finishReasons[index] ?? FinishReason.UNSPECIFIED,
        }))
      : oneChoice(output, finishReasons[0] ?? FinishReason.UNSPECIFIED);
  return {
    contentCaptured: true,
    content: {
      case: 'plainContent',
      value: { inputMessages: input, outputMessages, toolDefinitions: tools },
    },
  };
}

function operationOf(a: ValueObject): Operation {
  if (kindOf(a) === 'EMBEDDING') return Operation.EMBEDDINGS;
  if (hasIndexed(a, inputMessages) || hasIndexed(a, outputMessages)) return Operation.CHAT;
  if (hasIndexed(a, prompts) || text(a['input.mime_type']) === 'text/plain') {
    return Operation.TEXT_COMPLETION;
  }
  return Operation.CHAT;
}

/**
 * `metadata` entry by entry (kept whole when it is not a JSON object), with `user.id` and
 * `tag.tags`; values that are not text as JSON text.
 */
function contextAttributes(a: ValueObject): Record<string, string> {
  const metadata = structured(a['metadata']);
  const fields: ValueObject = {
    ...(isObject(metadata) ? metadata : { metadata: a['metadata'] ?? null }),
    'user.id': a['user.id'] ?? null,
    'tag.tags': a['tag.tags'] ?? null,
  };
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, value]) => value !== null)
      .map(([key, value]) => [key, asText(value)]),
  );
}

/** The stream flag of the invocation parameters, and the first-token event's time. */
function streamingOf({ span }: SourceSpan, p: ValueObject): Pick<MappedCall, 'streaming'> {
  const first = span.events.find((event) => event.name === firstTokenEvent);
  if (first !== undefined) return { streaming: { firstTokenUnixNano: first.timeUnixNano } };
  return p['stream'] === true ? { streaming: {} } : {};
}

/**
 * Arize OpenInference: `openinference.span.kind` LLM and EMBEDDING spans are calls, with
 * flattened `llm.*` attributes (`llm.input_messages.N.message.*`, `llm.invocation_parameters`,
 * `llm.token_count.*`); AGENT, CHAIN and TOOL spans are the steps around them. Session, user and
 * metadata are stamped on every span from the context.
 */
export const openInference: SpanMapper = {
  format: SourceFormat.OPENINFERENCE,

  recognises({ attributes }: SourceSpan): boolean {
    const kind = kindOf(attributes);
    return kind === 'LLM' || kind === 'EMBEDDING';
  },

  map(source: SourceSpan, context: MapContext): MappedCall {
    const a = source.attributes;
    const invocation = invocationOf(a);
    const output = jsonOutput(a);
    const response = isResponse(output) ? output : undefined;
    const finishReasons = finishReasonsOf(a, response);
    return {
      call: {
        operation: operationOf(a),
        provider: provider(a),
        ...models(a, invocation),
        responseId: text(output?.['id']) ?? '',
        parameters: parameters(invocation),
        finishReasons,
        usage: usage(a),
        ...content(a, context, response, finishReasons),
      },
      context: {
        agentName: text(a['agent.name']) ?? '',
        conversationId: text(a['session.id']) ?? '',
        attributes: contextAttributes(a),
      },
      ...streamingOf(source, invocation),
    };
  },

  /**
   * AGENT spans are agents; CHAIN spans are steps, the root one the workflow; TOOL spans are tool
   * executions (`tool.id` names the call they answer, where the instrumentation knows it).
   */
  step({ span, attributes: a }: SourceSpan): MappedStep | undefined {
    const common = {
      conversationId: text(a['session.id']) ?? '',
      attributes: contextAttributes(a),
    };
    switch (kindOf(a)) {
      case 'AGENT':
        return { kind: StepKind.AGENT, name: text(a['agent.name']) ?? span.name, ...common };
      case 'CHAIN': {
        const kind = span.parentSpanId.length === 0 ? StepKind.WORKFLOW : StepKind.TASK;
        return { kind, name: span.name, ...common };
      }
      case 'TOOL':
        return {
          kind: StepKind.TOOL,
          name: text(a['tool.name']) ?? span.name,
          toolCallId: text(a['tool.id'] ?? a['tool_call.id']) ?? '',
          ...common,
        };
      default:
        return undefined;
    }
  },
};
