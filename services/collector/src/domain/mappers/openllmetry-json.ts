import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  CallContentSchema,
  ChatMessageSchema,
  RequestParametersSchema,
  ResponseFormatSchema,
  SourceFormat,
} from '@understudy/contracts';
import { isObject, structured, text, type ValueObject } from '../attributes.js';
import { genAiAttributes } from './genai-attributes.js';
import type { MapContext, MappedCall, SourceSpan, SpanMapper } from './mapper.js';
import { isResponsesItem, responsesInputMessages } from './openai-responses.js';
import { providerName } from './providers.js';
import {
  traceloopContext,
  traceloopParameters,
  traceloopStreaming,
  traceloopUsage,
} from './traceloop.js';

type MessageInit = MessageInitShape<typeof ChatMessageSchema>;

/**
 * Instrumentation scopes only OpenLLMetry uses: its JS packages, and its Python OpenAI package
 * (its other Python packages share their scope names with OTel's own instrumentations).
 */
const traceloopScopes = /^(@traceloop\/|opentelemetry\.instrumentation\.openai\.v[01]$)/;

/** Attributes that no semconv version defines and OpenLLMetry sets. */
const traceloopKeys = [
  'gen_ai.usage.total_tokens',
  'llm.usage.total_tokens',
  'gen_ai.usage.cache_read_input_tokens',
  'gen_ai.usage.cache_creation_input_tokens',
  'gen_ai.usage.reasoning_tokens',
  'gen_ai.is_streaming',
  'llm.is_streaming',
  'llm.request.type',
  'gen_ai.request.structured_output_schema',
];

/** Whether OpenLLMetry made the span: its scope, its SDK's `traceloop.*` context, its own keys. */
function fromTraceloop({ scopeName, attributes }: SourceSpan): boolean {
  return (
    traceloopScopes.test(scopeName) ||
    traceloopKeys.some((key) => attributes[key] !== undefined) ||
    Object.keys(attributes).some((key) => key.startsWith('traceloop.'))
  );
}

/** The semconv parameters, with what only OpenLLMetry records. */
function parametersOf(a: ValueObject, semconv: MappedCall['call']['parameters']) {
  const parameters = create(RequestParametersSchema, semconv);
  const { responseFormat, other } = traceloopParameters(a);
  if (responseFormat !== undefined) {
    parameters.responseFormat = create(ResponseFormatSchema, responseFormat);
  }
  if (other !== undefined) parameters.other = other;
  return parameters;
}

/**
 * OpenLLMetry's JS instrumentation records a Responses API call's `input` as one user message
 * whose text is the input's JSON when the input is a list of items (messages, earlier output
 * items, tool outputs): those items are the call's messages.
 */
function responsesInput(
  { scopeName, attributes: a }: SourceSpan,
  context: MapContext,
): MessageInit[] | undefined {
  if (!scopeName.startsWith('@traceloop/')) return undefined;
  const messages = structured(a['gen_ai.input.messages']);
  const [message] = Array.isArray(messages) && messages.length === 1 ? messages : [];
  if (!isObject(message) || message['role'] !== 'user') return undefined;
  const parts = message['parts'];
  const [part] = Array.isArray(parts) && parts.length === 1 ? parts : [];
  const raw = isObject(part) && part['type'] === 'text' ? text(part['content']) : undefined;
  const items = raw?.startsWith('[') === true ? structured(raw) : undefined;
  if (!Array.isArray(items) || items.length === 0 || !items.every(isResponsesItem)) {
    return undefined;
  }
  return responsesInputMessages(items, context);
}

/** The semconv content, with the input messages the span really holds where they differ. */
function withInput(
  content: MappedCall['call']['content'],
  inputMessages: MessageInit[] | undefined,
): Partial<Pick<MappedCall['call'], 'content'>> {
  if (inputMessages === undefined || content?.case !== 'plainContent') return {};
  const value = create(CallContentSchema, content.value);
  value.inputMessages = inputMessages.map((message) => create(ChatMessageSchema, message));
  return { content: { case: 'plainContent', value } };
}

/**
 * Traceloop OpenLLMetry since its JSON messages (Python ≥ 0.55, JS ≥ 0.23): the semconv ≥ 1.37
 * attributes, which the semconv mapper reads, plus OpenLLMetry's own: token counts under its
 * names, structured-output schema, streaming flag and chunk events, and the workflow, entity and
 * association-property context its SDK stamps on every span.
 */
export const openLlmetryJson: SpanMapper = {
  format: SourceFormat.OPENLLMETRY_JSON,

  recognises(source: SourceSpan): boolean {
    return genAiAttributes.recognises(source) && fromTraceloop(source);
  },

  map(source: SourceSpan, context: MapContext): MappedCall {
    const a = source.attributes;
    const base = genAiAttributes.map(source, context);
    const streaming = base.streaming ?? traceloopStreaming(source).streaming;
    return {
      call: {
        ...base.call,
        provider: providerName(base.call.provider ?? ''),
        parameters: parametersOf(a, base.call.parameters),
        usage: traceloopUsage(a),
        ...withInput(base.call.content, responsesInput(source, context)),
      },
      context: traceloopContext(a),
      ...(streaming && { streaming }),
      ...(base.awaitsEvents === true && { awaitsEvents: true }),
    };
  },
};
