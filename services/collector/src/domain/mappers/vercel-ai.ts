import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  FinishReason,
  Modality,
  Operation,
  ResponseFormatType,
  Role,
  SourceFormat,
  StepKind,
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
import {
  asText,
  finishReasonOf,
  lookup,
  mediaOfData,
  partOf,
  roleOf,
  toolOf,
} from './genai-content.js';
import type { MapContext, MappedCall, MappedStep, SourceSpan, SpanMapper } from './mapper.js';
import { int32, int64 } from './numbers.js';

type PartInit = MessageInitShape<typeof MessagePartSchema>;
type MessageInit = MessageInitShape<typeof ChatMessageSchema>;
type ToolInit = MessageInitShape<typeof ToolDefinitionSchema>;

/** The spans of one provider call each; their parents (`ai.generateText`…) are steps. */
const callOperations: Readonly<Record<string, Operation>> = {
  'ai.generateText.doGenerate': Operation.CHAT,
  'ai.streamText.doStream': Operation.CHAT,
  'ai.generateObject.doGenerate': Operation.CHAT,
  'ai.streamObject.doStream': Operation.CHAT,
  'ai.embed.doEmbed': Operation.EMBEDDINGS,
  'ai.embedMany.doEmbed': Operation.EMBEDDINGS,
};
const streamOperations = new Set(['ai.streamText.doStream', 'ai.streamObject.doStream']);
const objectOperations = new Set(['ai.generateObject.doGenerate', 'ai.streamObject.doStream']);

/**
 * The spans around calls. `generateText`/`streamText` run the tool loop of an agent (v7 calls
 * them `invoke_agent`, named by the function id); the other functions are named steps.
 */
const stepKinds: Readonly<Record<string, StepKind>> = {
  'ai.generateText': StepKind.AGENT,
  'ai.streamText': StepKind.AGENT,
  'ai.generateObject': StepKind.TASK,
  'ai.streamObject': StepKind.TASK,
  'ai.embed': StepKind.TASK,
  'ai.embedMany': StepKind.TASK,
  'ai.rerank': StepKind.TASK,
};

/** `ai.model.provider` (`openai.chat`, `google.vertex.chat`…) as a semconv provider name. */
const providers: readonly (readonly [prefix: string, name: string])[] = [
  ['google.vertex', 'gcp.vertex_ai'],
  ['google-vertex', 'gcp.vertex_ai'],
  ['google.generative-ai', 'gcp.gemini'],
  ['google', 'gcp.gemini'],
  ['amazon-bedrock', 'aws.bedrock'],
  ['bedrock', 'aws.bedrock'],
  // `@ai-sdk/azure` is Azure OpenAI.
  ['azure-openai', 'azure.ai.openai'],
  ['azure', 'azure.ai.openai'],
  ['mistral', 'mistral_ai'],
  ['xai', 'x_ai'],
];

function providerOf(a: ValueObject): string {
  const provider = (text(a['ai.model.provider']) ?? text(a['gen_ai.system']) ?? '').toLowerCase();
  const known = providers.find(
    ([prefix]) =>
      provider === prefix ||
      (provider.startsWith(prefix) && /^[.-]/.test(provider.slice(prefix.length))),
  );
  return known?.[1] ?? provider.split('.')[0] ?? '';
}

function operationIdOf({ span, attributes }: SourceSpan): string {
  return text(attributes['ai.operationId']) ?? span.name;
}

const firstInteger = (...values: (Value | undefined)[]) =>
  values.map(int32).find((value) => value !== undefined);

/** `ai.prompt.toolChoice`: `{type: auto | none | required}`, or `{type: tool, toolName}`. */
function toolChoiceOf(value: Value | undefined): string {
  const choice = structured(value);
  if (!isObject(choice)) return '';
  const type = text(choice['type']) ?? '';
  return type === 'tool' ? (text(choice['toolName']) ?? '') : type;
}

/** `ai.settings.*` (v4 `maxTokens`, v5+ `maxOutputTokens`), else the semconv duplicates. */
function parameters(a: ValueObject, objectOutput: boolean): MappedCall['call']['parameters'] {
  const setting = (key: string) => a[`ai.settings.${key}`];
  const seed = int64(setting('seed'));
  return {
    ...defined({
      temperature: decimal(setting('temperature') ?? a['gen_ai.request.temperature']),
      maxTokens: firstInteger(
        setting('maxOutputTokens'),
        setting('maxTokens'),
        a['gen_ai.request.max_tokens'],
      ),
      topP: decimal(setting('topP') ?? a['gen_ai.request.top_p']),
      topK: firstInteger(setting('topK'), a['gen_ai.request.top_k']),
      seed,
      frequencyPenalty: decimal(
        setting('frequencyPenalty') ?? a['gen_ai.request.frequency_penalty'],
      ),
      presencePenalty: decimal(setting('presencePenalty') ?? a['gen_ai.request.presence_penalty']),
      // The schema itself is only on the enclosing `ai.generateObject` span (`ai.schema`).
      responseFormat: objectOutput ? { type: ResponseFormatType.JSON_OBJECT } : undefined,
    }),
    stopSequences:
      texts(setting('stopSequences')) ?? texts(a['gen_ai.request.stop_sequences']) ?? [],
    toolChoice: toolChoiceOf(a['ai.prompt.toolChoice']),
  };
}

/** v5+ `inputTokens`/`outputTokens` (v6 details apart), v4 `promptTokens`, embeddings `tokens`. */
function usage(a: ValueObject): MappedCall['call']['usage'] {
  return defined({
    inputTokens: firstInteger(
      a['ai.usage.inputTokens'],
      a['ai.usage.promptTokens'],
      a['ai.usage.tokens'],
      a['gen_ai.usage.input_tokens'],
    ),
    outputTokens: firstInteger(
      a['ai.usage.outputTokens'],
      a['ai.usage.completionTokens'],
      a['gen_ai.usage.output_tokens'],
    ),
    cachedInputTokens: firstInteger(
      a['ai.usage.inputTokenDetails.cacheReadTokens'],
      a['ai.usage.cachedInputTokens'],
    ),
    cacheCreationInputTokens: int32(a['ai.usage.inputTokenDetails.cacheWriteTokens']),
    reasoningTokens: firstInteger(
      a['ai.usage.outputTokenDetails.reasoningTokens'],
      a['ai.usage.reasoningTokens'],
    ),
  });
}

/** `stop`, `length`, `content-filter`, `tool-calls`, `error`, `other`; `unknown` says nothing. */
function finishReason(a: ValueObject): FinishReason {
  const reason =
    text(a['ai.response.finishReason']) ?? texts(a['gen_ai.response.finish_reasons'])?.[0];
  return reason === 'unknown' ? FinishReason.UNSPECIFIED : finishReasonOf(reason);
}

/** `ai.telemetry.metadata.*`, as text. */
function metadataOf(a: ValueObject): Record<string, string> {
  const prefix = 'ai.telemetry.metadata.';
  return Object.fromEntries(
    Object.entries(a)
      .filter(([key, value]) => key.startsWith(prefix) && value !== null)
      .map(([key, value]) => [key.slice(prefix.length), asText(value)]),
  );
}

/** Conversation ids go in metadata; `sessionId` is the key Langfuse and others document. */
function conversationOf(metadata: Record<string, string>): string {
  return metadata['sessionId'] ?? metadata['conversationId'] ?? '';
}

/** v5+ tool results: `{type: text | json | error-text | error-json | content…, value}`. */
function toolOutputText(output: Value | undefined): string {
  if (!isObject(output) || typeof output['type'] !== 'string' || !('value' in output)) {
    return asText(output);
  }
  return asText(output['value'] ?? null);
}

/** A part of `ai.prompt.messages` (v4 `args`/`result`/`mimeType`, v5+ `input`/`output`/`mediaType`). */
function partOfPrompt(part: Value, context: MapContext): PartInit {
  if (!isObject(part)) return partOf(part, context);
  const mimeType = text(part['mediaType']) ?? text(part['mimeType']) ?? '';
  switch (text(part['type']) ?? '') {
    case 'text':
      return { kind: { case: 'text', value: { text: text(part['text']) ?? '' } } };
    case 'reasoning':
      return { kind: { case: 'reasoning', value: { text: text(part['text']) ?? '' } } };
    // Images and files are URLs or base64 text (bytes in the SDK, base64 in its telemetry).
    case 'image':
      return mediaOfData(text(part['image']) ?? '', mimeType, context, Modality.IMAGE);
    case 'file':
      return mediaOfData(text(part['data']) ?? '', mimeType, context);
    case 'tool-call': {
      const value = {
        id: text(part['toolCallId']) ?? '',
        name: text(part['toolName']) ?? '',
        arguments: asText(part['input'] ?? part['args']),
      };
      return { kind: { case: 'toolCall', value } };
    }
    case 'tool-result': {
      const value = {
        id: text(part['toolCallId']) ?? '',
        response: toolOutputText(part['output'] ?? part['result']),
      };
      return { kind: { case: 'toolCallResponse', value } };
    }
    default:
      return partOf(part, context);
  }
}

function messageOfPrompt(message: Value, context: MapContext): MessageInit | undefined {
  if (!isObject(message)) return undefined;
  const content = message['content'];
  const parts = Array.isArray(content)
    ? content
    : content === undefined || content === null
      ? []
      : [content];
  return {
    role: roleOf(text(message['role'])),
    parts: parts.map((part) => partOfPrompt(part, context)),
  };
}

/** `ai.prompt`, the caller's `{system?, prompt?, messages?}`, as messages. */
function callerMessages(prompt: ValueObject): Value[] {
  const system = text(prompt['system']);
  const user = text(prompt['prompt']);
  return [
    ...(system === undefined ? [] : [{ role: 'system', content: system }]),
    ...(user === undefined ? [] : [{ role: 'user', content: user }]),
    ...(Array.isArray(prompt['messages']) ? prompt['messages'] : []),
  ];
}

/**
 * The messages sent: `ai.prompt.messages` (the provider-level prompt, system message first), or
 * on spans without it the caller's `ai.prompt`.
 */
function inputMessages(a: ValueObject, context: MapContext): MessageInit[] | undefined {
  const messages = structured(a['ai.prompt.messages']);
  const prompt = structured(a['ai.prompt']);
  const list = Array.isArray(messages)
    ? messages
    : isObject(prompt)
      ? callerMessages(prompt)
      : undefined;
  return list
    ?.map((message) => messageOfPrompt(message, context))
    .filter((message) => message !== undefined);
}

/** `ai.prompt.tools`: JSON text per tool, functions or provider-defined tools (`{id, name, args}`). */
function toolDefinitions(a: ValueObject): ToolInit[] {
  return (texts(a['ai.prompt.tools']) ?? []).flatMap((json): ToolInit | ToolInit[] => {
    const tool = structured(json);
    if (!isObject(tool)) return [];
    const type = text(tool['type']) ?? 'function';
    if (type === 'function') return toolOf(tool) ?? [];
    return [{ type: text(tool['id']) ?? type, name: text(tool['name']) ?? '' }];
  });
}

/** The answer: reasoning, then text or the generated object, then tool calls. */
function outputMessage(a: ValueObject): MessageInit | undefined {
  const parts: PartInit[] = [];
  const reasoning = text(a['ai.response.reasoning']);
  const answer = text(a['ai.response.text']) ?? text(a['ai.response.object']);
  const toolCalls = structured(a['ai.response.toolCalls']);
  if (reasoning !== undefined)
    parts.push({ kind: { case: 'reasoning', value: { text: reasoning } } });
  if (answer !== undefined) parts.push({ kind: { case: 'text', value: { text: answer } } });
  for (const call of Array.isArray(toolCalls) ? toolCalls.filter(isObject) : []) {
    const value = {
      id: text(call['toolCallId']) ?? '',
      name: text(call['toolName']) ?? '',
      arguments: asText(call['input'] ?? call['args']),
    };
    parts.push({ kind: { case: 'toolCall', value } });
  }
  if (parts.length === 0) return undefined;
  return { role: Role.ASSISTANT, parts, finishReason: finishReason(a) };
}

/** With `recordInputs`/`recordOutputs` off the SDK leaves the content attributes out. */
function content(
  a: ValueObject,
  context: MapContext,
): Pick<MappedCall['call'], 'contentCaptured' | 'content'> {
  const inputs = inputMessages(a, context);
  const tools = toolDefinitions(a);
  const output = outputMessage(a);
  if (inputs === undefined && tools.length === 0 && output === undefined) {
    return { contentCaptured: false };
  }
  return {
    contentCaptured: true,
    content: {
      case: 'plainContent',
      value: {
        inputMessages: inputs ?? [],
        outputMessages: output === undefined ? [] : [output],
        toolDefinitions: tools,
      },
    },
  };
}

/**
 * `ai.response.msToFirstChunk` (`ai.stream.msToFirstChunk` for `streamObject`) after the start,
 * else the time of the `ai.stream.firstChunk` event.
 */
function streaming({ span, attributes: a }: SourceSpan): NonNullable<MappedCall['streaming']> {
  const ms = decimal(a['ai.response.msToFirstChunk'] ?? a['ai.stream.msToFirstChunk']);
  const firstChunk = span.events.find((event) => event.name === 'ai.stream.firstChunk');
  const firstTokenUnixNano =
    ms === undefined
      ? firstChunk?.timeUnixNano
      : span.startTimeUnixNano + BigInt(Math.round(ms * 1e6));
  return firstTokenUnixNano === undefined ? {} : { firstTokenUnixNano };
}

/**
 * The Vercel AI SDK ≤ v6 telemetry (`experimental_telemetry`; v7's `LegacyOpenTelemetry`):
 * `ai.*` attributes on one span per provider call (`ai.generateText.doGenerate`…), inside a span
 * per SDK function (`ai.generateText`…) and per tool execution (`ai.toolCall`). v7's default
 * integration emits semconv ≥ 1.37 instead (`genAiAttributes`).
 */
export const vercelAi: SpanMapper = {
  format: SourceFormat.VERCEL_AI_SDK,

  recognises(source: SourceSpan): boolean {
    return lookup(callOperations, operationIdOf(source)) !== undefined;
  },

  map(source: SourceSpan, context: MapContext): MappedCall {
    const a = source.attributes;
    const operationId = operationIdOf(source);
    const operation = lookup(callOperations, operationId) ?? Operation.UNSPECIFIED;
    const reason = finishReason(a);
    const metadata = metadataOf(a);
    return {
      call: {
        operation,
        provider: providerOf(a),
        requestModel: text(a['ai.model.id']) ?? text(a['gen_ai.request.model']) ?? '',
        responseModel: text(a['ai.response.model']) ?? text(a['gen_ai.response.model']) ?? '',
        responseId: text(a['ai.response.id']) ?? text(a['gen_ai.response.id']) ?? '',
        parameters: parameters(a, objectOperations.has(operationId)),
        finishReasons: reason === FinishReason.UNSPECIFIED ? [] : [reason],
        usage: usage(a),
        // Embedding inputs (`ai.values`) are not messages: embeddings carry no content.
        ...(operation === Operation.EMBEDDINGS ? { contentCaptured: false } : content(a, context)),
      },
      context: { conversationId: conversationOf(metadata), attributes: metadata },
      ...(streamOperations.has(operationId) && { streaming: streaming(source) }),
    };
  },

  step(source: SourceSpan): MappedStep | undefined {
    const a = source.attributes;
    const operationId = operationIdOf(source);
    const metadata = metadataOf(a);
    const conversationId = conversationOf(metadata);
    if (operationId === 'ai.toolCall') {
      return {
        kind: StepKind.TOOL,
        name: text(a['ai.toolCall.name']) ?? '',
        toolCallId: text(a['ai.toolCall.id']) ?? '',
        conversationId,
        attributes: metadata,
      };
    }
    const kind = lookup(stepKinds, operationId);
    const functionId = text(a['ai.telemetry.functionId']);
    // Without a function id the span names nothing; its metadata is on the calls too.
    if (kind === undefined || functionId === undefined) return undefined;
    return { kind, name: functionId, conversationId, attributes: metadata };
  },
};
