import { genAiAttributes } from './genai-attributes.js';
import type { SpanMapper } from './mapper.js';

export type { MappedCall, SourceSpan, SpanMapper } from './mapper.js';

/**
 * Formats in precedence order: the first mapper that recognises a span maps it. More specific
 * formats (OpenInference, OpenLLMetry, Vercel AI SDK, semconv events) go before the generic
 * semconv attributes, whose `gen_ai.operation.name` other formats may also set.
 */
export const mappers: readonly SpanMapper[] = [genAiAttributes];
