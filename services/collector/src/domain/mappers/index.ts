import { genAiAttributes } from './genai-attributes.js';
import { genAiEvents } from './genai-events.js';
import { genAiLogEvents, genAiOperationDetails } from './genai-log-events.js';
import type { LogMapper, SpanMapper } from './mapper.js';
import { openInference } from './openinference.js';
import { openLlmetryFlattened } from './openllmetry-flattened.js';
import { openLlmetryJson } from './openllmetry-json.js';
import { vercelAi } from './vercel-ai.js';

export { statusOf } from './status.js';
export type {
  LogMapper,
  MapContext,
  MappedCall,
  MappedEvent,
  MappedStep,
  SourceLogRecord,
  SourceSpan,
  SpanMapper,
} from './mapper.js';

/**
 * Formats in precedence order: the first mapper that recognises a span maps it. More specific
 * formats (OpenInference, OpenLLMetry, Vercel AI SDK, semconv events) go before the generic
 * semconv attributes, whose `gen_ai.operation.name` other formats may also set.
 */
export const spanMappers: readonly SpanMapper[] = [
  // `openinference.span.kind` is explicit; OpenInference's span processors add it and `llm.*`
  // to other formats' spans (Vercel AI SDK, semconv), so it decides before their keys do.
  openInference,
  // `llm.request.type` and `gen_ai.prompt.N.*` are OpenLLMetry's alone; it never sets them
  // together with the JSON form's `gen_ai.input.messages`.
  openLlmetryFlattened,
  // The JSON form is semconv ≥ 1.37 plus OpenLLMetry's own keys: it reads all the semconv
  // mapper reads, so it goes first and takes the spans that carry an OpenLLMetry mark.
  openLlmetryJson,
  // Sets `gen_ai.system` and `gen_ai.request.*` beside its own `ai.*` attributes.
  vercelAi,
  // ≤ 1.36 spans hold no ≥ 1.37 attribute; both read `gen_ai.operation.name`.
  genAiEvents,
  genAiAttributes,
];

/** Log-record formats in precedence order. */
export const logMappers: readonly LogMapper[] = [genAiLogEvents, genAiOperationDetails];
