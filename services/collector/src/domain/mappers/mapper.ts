import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type {
  CallContextSchema,
  LlmCallSchema,
  otlpTrace,
  SourceFormat,
} from '@understudy/contracts';
import type { ValueObject } from '../attributes.js';

/** The field-by-field form of a message (not a built message), so it can be spread. */
type Init<Desc extends DescMessage> = Exclude<MessageInitShape<Desc>, MessageShape<Desc>>;

/** A span with what surrounds it in the export: its resource and instrumentation scope. */
export interface SourceSpan {
  readonly span: otlpTrace.Span;
  readonly attributes: ValueObject;
  readonly resource: ValueObject;
  readonly scopeName: string;
  readonly scopeVersion: string;
  /** The scope's schema URL, else the resource's; names the semconv version. */
  readonly schemaUrl: string;
}

/** What a format says about a call; ids, timing, status and source are format-independent. */
export interface MappedCall {
  readonly call: Omit<Init<typeof LlmCallSchema>, 'context' | 'timing' | 'status' | 'source'>;
  readonly context: Init<typeof CallContextSchema>;
}

/**
 * One telemetry format (OTel GenAI attributes, OpenInference, OpenLLMetry, Vercel AI SDK…).
 * Mappers are tried in a fixed precedence order; the first that recognises a span maps it.
 */
export interface SpanMapper {
  readonly format: SourceFormat;
  /** Whether the span records an LLM call in this format (agent, tool and chain spans do not). */
  recognises(span: SourceSpan): boolean;
  map(span: SourceSpan): MappedCall;
}
