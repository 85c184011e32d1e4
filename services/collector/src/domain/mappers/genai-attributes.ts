import { Operation, ResponseFormatType, SourceFormat, StepKind } from '@understudy/contracts';
import {
  decimal,
  defined,
  structured,
  text,
  texts,
  type Value,
  type ValueObject,
} from '../attributes.js';
import { finishReasonOf, instructionsOf, lookup, messagesOf, toolsOf } from './genai-content.js';
import type { MapContext, MappedCall, MappedStep, SourceSpan, SpanMapper } from './mapper.js';
import { int32, int64 } from './numbers.js';

/** Operations that are calls to a model; agent, tool and workflow operations are not. */
export const callOperations: Readonly<Record<string, Operation>> = {
  chat: Operation.CHAT,
  text_completion: Operation.TEXT_COMPLETION,
  generate_content: Operation.GENERATE_CONTENT,
  embeddings: Operation.EMBEDDINGS,
};

/** Operations of the spans around calls, and the attribute naming each. */
const steps: Readonly<Record<string, { kind: StepKind; nameKey: string }>> = {
  invoke_agent: { kind: StepKind.AGENT, nameKey: 'gen_ai.agent.name' },
  create_agent: { kind: StepKind.AGENT, nameKey: 'gen_ai.agent.name' },
  invoke_workflow: { kind: StepKind.WORKFLOW, nameKey: 'gen_ai.workflow.name' },
  execute_tool: { kind: StepKind.TOOL, nameKey: 'gen_ai.tool.name' },
};

const contentKeys = [
  'gen_ai.system_instructions',
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.tool.definitions',
] as const;

/**
 * Attributes only semconv ≥ 1.37 sets: the content attributes, and `gen_ai.provider.name`, which
 * replaced `gen_ai.system` in that version. A span holding any of them is in the ≥ 1.37 form.
 */
export const latestSemconvKeys = ['gen_ai.provider.name', ...contentKeys] as const;

/** `gen_ai.output.type` (≥ 1.37) and `gen_ai.openai.request.response_format` (≤ 1.36). */
const responseFormats: Readonly<Record<string, ResponseFormatType>> = {
  text: ResponseFormatType.TEXT,
  json: ResponseFormatType.JSON_OBJECT,
  json_object: ResponseFormatType.JSON_OBJECT,
  json_schema: ResponseFormatType.JSON_SCHEMA,
};

function parameters(a: ValueObject): MappedCall['call']['parameters'] {
  const seed = int64(a['gen_ai.request.seed'] ?? a['gen_ai.openai.request.seed']);
  const format = text(a['gen_ai.output.type'] ?? a['gen_ai.openai.request.response_format']);
  const formatType = lookup(responseFormats, format ?? '');
  return {
    ...defined({
      temperature: decimal(a['gen_ai.request.temperature']),
      maxTokens: int32(a['gen_ai.request.max_tokens']),
      topP: decimal(a['gen_ai.request.top_p']),
      topK: int32(a['gen_ai.request.top_k']),
      seed,
      frequencyPenalty: decimal(a['gen_ai.request.frequency_penalty']),
      presencePenalty: decimal(a['gen_ai.request.presence_penalty']),
      choiceCount: int32(a['gen_ai.request.choice.count']),
      responseFormat: formatType === undefined ? undefined : { type: formatType },
    }),
    stopSequences: texts(a['gen_ai.request.stop_sequences']) ?? [],
  };
}

function usage(a: ValueObject): MappedCall['call']['usage'] {
  return defined({
    inputTokens: int32(a['gen_ai.usage.input_tokens'] ?? a['gen_ai.usage.prompt_tokens']),
    outputTokens: int32(a['gen_ai.usage.output_tokens'] ?? a['gen_ai.usage.completion_tokens']),
    cachedInputTokens: int32(a['gen_ai.usage.cache_read.input_tokens']),
    cacheCreationInputTokens: int32(a['gen_ai.usage.cache_creation.input_tokens']),
    reasoningTokens: int32(a['gen_ai.usage.reasoning.output_tokens']),
  });
}

/** What the semconv attributes of every version say about a call, its content aside. */
export function semconvCall(a: ValueObject, operation: Operation): MappedCall['call'] {
  return {
    operation,
    provider: (text(a['gen_ai.provider.name']) ?? text(a['gen_ai.system']) ?? '').toLowerCase(),
    requestModel: text(a['gen_ai.request.model']) ?? '',
    responseModel: text(a['gen_ai.response.model']) ?? '',
    responseId: text(a['gen_ai.response.id']) ?? '',
    parameters: parameters(a),
    finishReasons: (texts(a['gen_ai.response.finish_reasons']) ?? []).map(finishReasonOf),
    usage: usage(a),
  };
}

export function semconvContext(a: ValueObject): MappedCall['context'] {
  return {
    agentId: text(a['gen_ai.agent.id']) ?? '',
    agentName: text(a['gen_ai.agent.name']) ?? '',
    conversationId: text(a['gen_ai.conversation.id']) ?? '',
  };
}

/**
 * Whether the call streamed (`gen_ai.request.stream`) and when its first chunk came:
 * `gen_ai.response.time_to_first_chunk`, in seconds from the start of the call. The Vercel AI
 * SDK v7 names that attribute after the semconv metric, `gen_ai.client.operation.…`.
 */
export function streamingOf({ span, attributes: a }: SourceSpan): Pick<MappedCall, 'streaming'> {
  const seconds = decimal(
    a['gen_ai.response.time_to_first_chunk'] ?? a['gen_ai.client.operation.time_to_first_chunk'],
  );
  if (seconds === undefined) return a['gen_ai.request.stream'] === true ? { streaming: {} } : {};
  const firstTokenUnixNano = span.startTimeUnixNano + BigInt(Math.round(seconds * 1e9));
  return { streaming: { firstTokenUnixNano } };
}

function content(
  a: ValueObject,
  context: MapContext,
): Pick<MappedCall['call'], 'contentCaptured' | 'content'> {
  const [, input, output, tools] = contentKeys.map((key) => structured(a[key]));
  const present = (value: Value | undefined) => value !== undefined && value !== null;
  if (![a['gen_ai.system_instructions'], input, output, tools].some(present)) {
    return { contentCaptured: false };
  }
  return {
    contentCaptured: true,
    content: {
      case: 'plainContent',
      value: {
        systemInstructions: instructionsOf(a['gen_ai.system_instructions'], context),
        inputMessages: messagesOf(input, context) ?? [],
        outputMessages: messagesOf(output, context) ?? [],
        toolDefinitions: toolsOf(tools) ?? [],
      },
    },
  };
}

/**
 * Whether the call's messages may come in events rather than in the span: semconv ≥ 1.37 lets
 * instrumentations send them in a `gen_ai.client.inference.operation.details` event (the OTel JS
 * instrumentation does for Responses API calls), and OpenLLMetry's Python instrumentations send
 * ≤ 1.36 message events when asked to. A span without messages waits for them; when content
 * capture was off, none come and it waits the join timeout in vain, which costs latency, not
 * calls. Embeddings have no messages.
 */
export function awaitsEvents(a: ValueObject, operation: Operation | undefined): boolean {
  const messages = ['gen_ai.input.messages', 'gen_ai.output.messages'];
  return operation !== Operation.EMBEDDINGS && messages.every((key) => a[key] === undefined);
}

/**
 * OTel GenAI semantic conventions ≥ 1.37: everything, content included, in span attributes
 * (`gen_ai.input.messages` and friends, JSON text or structured values). Also the agent,
 * workflow and tool spans around calls, of every semconv version.
 */
export const genAiAttributes: SpanMapper = {
  format: SourceFormat.OTEL_GENAI_ATTRIBUTES,

  recognises({ attributes }: SourceSpan): boolean {
    return lookup(callOperations, text(attributes['gen_ai.operation.name']) ?? '') !== undefined;
  },

  map(source: SourceSpan, context: MapContext): MappedCall {
    const a = source.attributes;
    const operation = lookup(callOperations, text(a['gen_ai.operation.name']) ?? '');
    return {
      call: { ...semconvCall(a, operation ?? Operation.UNSPECIFIED), ...content(a, context) },
      context: semconvContext(a),
      ...streamingOf(source),
      ...(awaitsEvents(a, operation) && { awaitsEvents: true }),
    };
  },

  step({ span, attributes: a }: SourceSpan): MappedStep | undefined {
    const operation = text(a['gen_ai.operation.name']) ?? '';
    const step = lookup(steps, operation);
    if (step === undefined) return undefined;
    const { kind, nameKey } = step;
    // Span names are `{operation} {name}` when the name is known.
    const spanName = span.name.startsWith(`${operation} `)
      ? span.name.slice(operation.length + 1)
      : '';
    return {
      kind,
      name: text(a[nameKey]) ?? spanName,
      agentId: text(a['gen_ai.agent.id']) ?? '',
      conversationId: text(a['gen_ai.conversation.id']) ?? '',
      toolCallId: kind === StepKind.TOOL ? (text(a['gen_ai.tool.call.id']) ?? '') : '',
    };
  },
};
