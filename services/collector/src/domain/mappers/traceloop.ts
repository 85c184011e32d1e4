import { ResponseFormatType, StepKind } from '@understudy/contracts';
import { defined, isObject, structured, text, type ValueObject } from '../attributes.js';
import { asText, lookup, struct } from './genai-content.js';
import type { MappedCall, MappedStep, SourceSpan } from './mapper.js';
import { int32 } from './numbers.js';

/**
 * What Traceloop's OpenLLMetry adds to a call span in both of its forms (flattened and JSON):
 * the context its SDK stamps on every span, its own usage, parameter and streaming attributes.
 */

const associationPrefix = 'traceloop.association.properties.';

/** The events Traceloop's Python instrumentations record per streamed chunk, old and new name. */
const chunkEvents = new Set(['llm.content.completion.chunk', 'gen_ai.content.completion.chunk']);

/** The spans Traceloop's SDK opens around calls (`@workflow`, `@task`, `@agent`, `@tool`). */
const stepKinds: Readonly<Record<string, StepKind>> = {
  workflow: StepKind.WORKFLOW,
  task: StepKind.TASK,
  agent: StepKind.AGENT,
  tool: StepKind.TOOL,
};

/** `traceloop.association.properties.<key>`, by key; values that are not text as JSON text. */
function associationProperties(a: ValueObject): Record<string, string> {
  return Object.fromEntries(
    Object.entries(a)
      .filter(([key, value]) => key.startsWith(associationPrefix) && value !== null)
      .map(([key, value]) => [key.slice(associationPrefix.length), asText(value)]),
  );
}

/**
 * `gen_ai.conversation.id` (the SDK's `@conversation`), else the association property its docs
 * use for one (`session_id`, or `conversation_id`).
 */
function conversationId(a: ValueObject, properties: Record<string, string>): string {
  return (
    text(a['gen_ai.conversation.id']) ??
    properties['session_id'] ??
    properties['conversation_id'] ??
    ''
  );
}

/**
 * The call's context as the SDK stamps it on every span: workflow, agent, association properties,
 * and `traceloop.entity.path`, the dotted names of the tasks and tools enclosing the call.
 */
export function traceloopContext(a: ValueObject): MappedCall['context'] {
  const properties = associationProperties(a);
  const path = (text(a['traceloop.entity.path']) ?? '').split('.').filter((name) => name !== '');
  return {
    agentId: text(a['gen_ai.agent.id']) ?? '',
    agentName: text(a['gen_ai.agent.name']) ?? '',
    workflowName: text(a['traceloop.workflow.name']) ?? '',
    stepName: text(a['traceloop.entity.name']) ?? path.at(-1) ?? '',
    stepPath: path,
    conversationId: conversationId(a, properties),
    attributes: properties,
  };
}

/**
 * Token counts under every name OpenLLMetry used: semconv's, its own `gen_ai.usage.*_tokens`
 * (cache and reasoning counts) and the older `llm.usage.*`.
 */
export function traceloopUsage(a: ValueObject): MappedCall['call']['usage'] {
  return defined({
    inputTokens: int32(a['gen_ai.usage.input_tokens'] ?? a['gen_ai.usage.prompt_tokens']),
    outputTokens: int32(a['gen_ai.usage.output_tokens'] ?? a['gen_ai.usage.completion_tokens']),
    cachedInputTokens: int32(
      a['gen_ai.usage.cache_read.input_tokens'] ?? a['gen_ai.usage.cache_read_input_tokens'],
    ),
    cacheCreationInputTokens: int32(
      a['gen_ai.usage.cache_creation.input_tokens'] ??
        a['gen_ai.usage.cache_creation_input_tokens'],
    ),
    reasoningTokens: int32(
      a['gen_ai.usage.reasoning.output_tokens'] ??
        a['gen_ai.usage.reasoning_tokens'] ??
        a['llm.usage.reasoning_tokens'],
    ),
  });
}

/**
 * Request parameters only OpenLLMetry records: the JSON schema of a structured output
 * (`gen_ai.request.structured_output_schema`) and reasoning settings (into `other`).
 */
export function traceloopParameters(
  a: ValueObject,
): Pick<NonNullable<MappedCall['call']['parameters']>, 'responseFormat' | 'other'> {
  const schema = structured(a['gen_ai.request.structured_output_schema']);
  const other = defined({
    reasoning_effort: text(
      a['gen_ai.request.reasoning_effort'] ?? a['llm.request.reasoning_effort'],
    ),
    reasoning_summary: text(
      a['gen_ai.request.reasoning_summary'] ?? a['llm.request.reasoning_summary'],
    ),
  });
  return {
    ...(isObject(schema) && {
      responseFormat: { type: ResponseFormatType.JSON_SCHEMA, jsonSchema: struct(schema) },
    }),
    ...(Object.keys(other).length > 0 && { other }),
  };
}

/**
 * Whether the call streamed (`llm.is_streaming`, later `gen_ai.is_streaming`, Python only) and
 * when its first chunk came: the first per-chunk event.
 */
export function traceloopStreaming({
  span,
  attributes: a,
}: SourceSpan): Pick<MappedCall, 'streaming'> {
  const first = span.events.find((event) => chunkEvents.has(event.name));
  if (first !== undefined) return { streaming: { firstTokenUnixNano: first.timeUnixNano } };
  return (a['llm.is_streaming'] ?? a['gen_ai.is_streaming']) === true ? { streaming: {} } : {};
}

/**
 * The workflow, task, agent and tool spans of Traceloop's SDK (`traceloop.span.kind`), named
 * `traceloop.entity.name` (the span is `<name>.<kind>`).
 */
export function traceloopStep({ span, attributes: a }: SourceSpan): MappedStep | undefined {
  const spanKind = text(a['traceloop.span.kind']) ?? '';
  const kind = lookup(stepKinds, spanKind);
  if (kind === undefined) return undefined;
  const suffix = `.${spanKind}`;
  const properties = associationProperties(a);
  return {
    kind,
    name:
      text(a['traceloop.entity.name']) ??
      (span.name.endsWith(suffix) ? span.name.slice(0, -suffix.length) : span.name),
    agentId: text(a['gen_ai.agent.id']) ?? '',
    conversationId: conversationId(a, properties),
    toolCallId: kind === StepKind.TOOL ? (text(a['gen_ai.tool.call.id']) ?? '') : '',
    attributes: properties,
  };
}
