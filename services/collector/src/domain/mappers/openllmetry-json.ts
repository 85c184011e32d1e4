import { create } from '@bufbuild/protobuf';
import { RequestParametersSchema, ResponseFormatSchema, SourceFormat } from '@understudy/contracts';
import type { ValueObject } from '../attributes.js';
import { genAiAttributes } from './genai-attributes.js';
import type { MapContext, MappedCall, SourceSpan, SpanMapper } from './mapper.js';
import { providerName } from './providers.js';
import {
  traceloopContext,
  traceloopParameters,
  traceloopStreaming,
  traceloopUsage,
} from './traceloop.js';

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
      },
      context: traceloopContext(a),
      ...(streaming && { streaming }),
    };
  },
};
