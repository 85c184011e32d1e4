import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  FinishReason,
  Operation,
  Role,
  SourceFormat,
  type ChatMessageSchema,
  type MessagePartSchema,
  type ToolDefinitionSchema,
} from '@understudy/contracts';
import {
  decimal,
  defined,
  isObject,
  structured,
  text,
  texts,
  type Value,
  type ValueObject,
} from '../attributes.js';
import { hasIndexed, indexed } from './flattened.js';
import { callOperations } from './genai-attributes.js';
import { asText, finishReasonOf, lookup, nativePartOf, roleOf, struct } from './genai-content.js';
import type { MapContext, MappedCall, SourceSpan, SpanMapper } from './mapper.js';
import { int32, int64 } from './numbers.js';
import { providerName } from './providers.js';
import {
  traceloopContext,
  traceloopParameters,
  traceloopStep,
  traceloopStreaming,
  traceloopUsage,
} from './traceloop.js';

type PartInit = MessageInitShape<typeof MessagePartSchema>;
type MessageInit = MessageInitShape<typeof ChatMessageSchema>;
type ToolInit = MessageInitShape<typeof ToolDefinitionSchema>;

const prompts = 'gen_ai.prompt.';
const completions = 'gen_ai.completion.';
/** Tool definitions: `llm.request.functions.N.*`, briefly `gen_ai.tool.definitions.N.*`. */
const toolLists = ['llm.request.functions.', 'gen_ai.tool.definitions.'];

/** `llm.request.type`, OpenLLMetry's operation name before it adopted `gen_ai.operation.name`. */
const requestTypes: Readonly<Record<string, Operation>> = {
  chat: Operation.CHAT,
  completion: Operation.TEXT_COMPLETION,
  embedding: Operation.EMBEDDINGS,
  embeddings: Operation.EMBEDDINGS,
};

/** The JSON form's content attributes: a span holding one is not in the flattened form. */
const jsonContentKeys = ['gen_ai.input.messages', 'gen_ai.output.messages'];

/**
 * The flattened form: `llm.request.type` names the operation (`rerank` and `unknown` are not
 * calls to a model); without it, flattened prompt or completion attributes and a call's
 * `gen_ai.operation.name`, if any, make the span a call.
 */
function operationOf(a: ValueObject): Operation | undefined {
  if (jsonContentKeys.some((key) => a[key] !== undefined)) return undefined;
  const requestType = text(a['llm.request.type']);
  if (requestType !== undefined) return lookup(requestTypes, requestType);
  if (!hasIndexed(a, prompts) && !hasIndexed(a, completions)) return undefined;
  return lookup(callOperations, text(a['gen_ai.operation.name']) ?? 'chat');
}

const textPart = (value: string): PartInit => ({ kind: { case: 'text', value: { text: value } } });

/**
 * A message's `content`: text, or JSON text of the provider's content blocks when the SDK got a
 * list of them (images, tool results…). The JS instrumentation writes `null` content as the text
 * `null`; that is no content.
 */
function contentParts(content: Value | undefined, context: MapContext): PartInit[] {
  if (typeof content !== 'string' || content === '' || content === 'null') return [];
  // Only a list can be content blocks: most content is prose, not worth a failed JSON parse.
  const parsed = content.trimStart().startsWith('[') ? structured(content) : undefined;
  const blocks =
    Array.isArray(parsed) &&
    parsed.length > 0 &&
    parsed.every((block) => isObject(block) && typeof block['type'] === 'string');
  return blocks ? parsed.map((block) => nativePartOf(block, context)) : [textPart(content)];
}

/** `tool_calls.N.{id, name, arguments}`, and the JS instrumentation's `function_call.*`. */
function toolCallParts(fields: ValueObject): PartInit[] {
  const calls = indexed(fields, 'tool_calls.').map((call) => ({
    id: text(call['id']) ?? '',
    name: text(call['name']) ?? '',
    arguments: asText(call['arguments']),
  }));
  const functionName = text(fields['function_call.name']);
  if (functionName !== undefined) {
    calls.push({
      id: '',
      name: functionName,
      arguments: asText(fields['function_call.arguments']),
    });
  }
  return calls.map((value) => ({ kind: { case: 'toolCall', value } }));
}

/** `gen_ai.prompt.N.*`: role, content, tool calls, and a tool result's `tool_call_id`. */
function promptMessage(fields: ValueObject, context: MapContext): MessageInit {
  // A prompt without a role (embeddings input; Anthropic's legacy completions API, which
  // recorded it as `gen_ai.prompt.0.user`) is the user's.
  const role = text(fields['role']) ?? 'user';
  const content = fields['content'] ?? fields['user'];
  if (role === 'tool') {
    const value = { id: text(fields['tool_call_id']) ?? '', response: asText(content) };
    return { role: Role.TOOL, parts: [{ kind: { case: 'toolCallResponse', value } }] };
  }
  return {
    role: roleOf(role),
    parts: [...contentParts(content, context), ...toolCallParts(fields)],
  };
}

/**
 * `gen_ai.completion.N.*`, one per choice. Anthropic's instrumentation records a thinking block as
 * a completion of its own, role `thinking`, before the answer's: it joins the answer as reasoning.
 * A choice stopped by the content filter has the placeholder content `FILTERED`.
 */
function completionMessages(a: ValueObject, context: MapContext): MessageInit[] {
  const messages: MessageInit[] = [];
  let thinking: { parts: PartInit[]; finishReason: FinishReason } | undefined;
  for (const fields of indexed(a, completions)) {
    const finishReason = finishReasonOf(text(fields['finish_reason']));
    const content = fields['content'];
    if (text(fields['role']) === 'thinking') {
      const reasoning = { kind: { case: 'reasoning' as const, value: { text: asText(content) } } };
      thinking = { parts: [...(thinking?.parts ?? []), reasoning], finishReason };
      continue;
    }
    const filtered = finishReason === FinishReason.CONTENT_FILTER && content === 'FILTERED';
    const refusal = text(fields['refusal']);
    messages.push({
      role: roleOf(text(fields['role']) ?? 'assistant'),
      parts: [
        ...(thinking?.parts ?? []),
        ...(filtered ? [] : contentParts(content, context)),
        ...(refusal === undefined
          ? []
          : [{ kind: { case: 'refusal' as const, value: { text: refusal } } }]),
        ...toolCallParts(fields),
      ],
      finishReason:
        finishReason === FinishReason.UNSPECIFIED
          ? (thinking?.finishReason ?? finishReason)
          : finishReason,
    });
    thinking = undefined;
  }
  if (thinking !== undefined) messages.push({ role: Role.ASSISTANT, ...thinking });
  return messages;
}

/** `{name, description, parameters}`, the parameters' schema as JSON text under any of its names. */
function toolDefinitions(a: ValueObject): ToolInit[] {
  return toolLists.flatMap((prefix) =>
    indexed(a, prefix).map((fields) => {
      const schema = structured(
        fields['parameters'] ?? fields['arguments'] ?? fields['input_schema'],
      );
      return {
        type: 'function',
        name: text(fields['name']) ?? '',
        description: text(fields['description']) ?? '',
        ...(isObject(schema) && { parameters: struct(schema) }),
      };
    }),
  );
}

function content(
  a: ValueObject,
  outputMessages: MessageInit[],
  context: MapContext,
): Pick<MappedCall['call'], 'contentCaptured' | 'content'> {
  const inputMessages = indexed(a, prompts).map((fields) => promptMessage(fields, context));
  const toolDefinitionList = toolDefinitions(a);
  if (inputMessages.length + outputMessages.length + toolDefinitionList.length === 0) {
    return { contentCaptured: false };
  }
  return {
    contentCaptured: true,
    content: {
      case: 'plainContent',
      value: { inputMessages, outputMessages, toolDefinitions: toolDefinitionList },
    },
  };
}

function parameters(a: ValueObject): MappedCall['call']['parameters'] {
  const seed = int64(a['gen_ai.request.seed']);
  return {
    ...defined({
      temperature: decimal(a['gen_ai.request.temperature']),
      maxTokens: int32(a['gen_ai.request.max_tokens']),
      topP: decimal(a['gen_ai.request.top_p']),
      topK: int32(a['llm.top_k'] ?? a['gen_ai.request.top_k']),
      seed,
      frequencyPenalty: decimal(
        a['llm.frequency_penalty'] ?? a['gen_ai.request.frequency_penalty'],
      ),
      presencePenalty: decimal(a['llm.presence_penalty'] ?? a['gen_ai.request.presence_penalty']),
    }),
    stopSequences: texts(a['llm.chat.stop_sequences'] ?? a['gen_ai.request.stop_sequences']) ?? [],
    ...traceloopParameters(a),
  };
}

/**
 * Finish reasons, one per choice: the completions' own, recorded with the content; without
 * content, the span-level `gen_ai.response.finish_reasons` (or `llm.response.finish_reason`).
 */
function finishReasons(a: ValueObject, outputs: readonly MessageInit[]): FinishReason[] {
  const reasons = outputs.map((message) => message.finishReason ?? FinishReason.UNSPECIFIED);
  if (reasons.some((reason) => reason !== FinishReason.UNSPECIFIED)) return reasons;
  const recorded = texts(a['gen_ai.response.finish_reasons'] ?? a['llm.response.finish_reason']);
  return (recorded ?? []).map(finishReasonOf);
}

/**
 * Traceloop OpenLLMetry before its JSON messages (Python < 0.55, JS < 0.23): flattened
 * `gen_ai.prompt.N.*` / `gen_ai.completion.N.*` content, `llm.request.functions.N.*` tools,
 * `llm.request.type`, `gen_ai.system` in the vendor's spelling (`OpenAI`, `AWS`…). Also the
 * workflow, task, agent and tool spans of Traceloop's SDK, whatever the instrumentations' form.
 */
export const openLlmetryFlattened: SpanMapper = {
  format: SourceFormat.OPENLLMETRY_FLATTENED,

  recognises({ attributes }: SourceSpan): boolean {
    return operationOf(attributes) !== undefined;
  },

  map(source: SourceSpan, context: MapContext): MappedCall {
    const a = source.attributes;
    const outputs = completionMessages(a, context);
    return {
      call: {
        operation: operationOf(a) ?? Operation.UNSPECIFIED,
        provider: providerName(text(a['gen_ai.system']) ?? text(a['gen_ai.provider.name']) ?? ''),
        requestModel: text(a['gen_ai.request.model']) ?? '',
        responseModel: text(a['gen_ai.response.model']) ?? '',
        responseId: text(a['gen_ai.response.id']) ?? '',
        parameters: parameters(a),
        finishReasons: finishReasons(a, outputs),
        usage: traceloopUsage(a),
        ...content(a, outputs, context),
      },
      context: traceloopContext(a),
      ...traceloopStreaming(source),
    };
  },

  step: traceloopStep,
};
