import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type {
  CallContextSchema,
  ContentEventFragmentSchema,
  LlmCallSchema,
  ObjectRefSchema,
  otlpLogs,
  otlpTrace,
  SourceFormat,
  StepFragmentSchema,
} from '@understudy/contracts';
import type { ValueObject } from '../attributes.js';

/** The field-by-field form of a message (not a built message), so it can be spread. */
type Init<Desc extends DescMessage> = Exclude<MessageInitShape<Desc>, MessageShape<Desc>>;

/** Where a record came from in the export: its resource and instrumentation scope. */
interface Origin {
  readonly resource: ValueObject;
  readonly scopeName: string;
  readonly scopeVersion: string;
  /** The scope's schema URL, else the resource's; names the semconv version. */
  readonly schemaUrl: string;
}

/** A span with what surrounds it in the export. */
export interface SourceSpan extends Origin {
  readonly span: otlpTrace.Span;
  readonly attributes: ValueObject;
}

/** A log record with what surrounds it in the export. */
export interface SourceLogRecord extends Origin {
  readonly record: otlpLogs.LogRecord;
  readonly attributes: ValueObject;
  /** `LogRecord.event_name`, else the `event.name` attribute; empty when neither is set. */
  readonly eventName: string;
}

/** I/O a mapper may need, kept out of the mappers themselves. */
export interface MapContext {
  /**
   * Stores an inline blob (an image, audio, a document) and says where it lives: content
   * travels by reference, never inline.
   */
  blob(bytes: Uint8Array, mimeType: string): Init<typeof ObjectRefSchema>;
}

/** What a format says about a call; ids, timing, status and source are format-independent. */
export interface MappedCall {
  readonly call: Omit<Init<typeof LlmCallSchema>, 'context' | 'timing' | 'status' | 'source'>;
  readonly context: Init<typeof CallContextSchema>;
  /** Streaming calls: whether the call streamed, and when its first token came (Unix ns). */
  readonly streaming?: { readonly firstTokenUnixNano?: bigint };
  /** The content travels in separate events (semconv ≤ 1.36 log records) not in the span. */
  readonly awaitsEvents?: boolean;
}

/** What a span around calls (agent, workflow, named step, tool execution) tells them. */
export type MappedStep = Init<typeof StepFragmentSchema>;

/** One content event of a call, holding one system instruction list or one message. */
export type MappedEvent = Omit<
  Init<typeof ContentEventFragmentSchema>,
  'sequence' | 'redaction' | 'kind'
>;

/**
 * One telemetry format (OTel GenAI attributes, OpenInference, OpenLLMetry, Vercel AI SDK…).
 * Mappers are tried in a fixed precedence order; the first that recognises a span maps it.
 */
export interface SpanMapper {
  readonly format: SourceFormat;
  /** Whether the span records an LLM call in this format (agent, tool and chain spans do not). */
  recognises(span: SourceSpan): boolean;
  map(span: SourceSpan, context: MapContext): MappedCall;
  /**
   * For spans that are not calls: the agent, workflow, step or tool the span records in this
   * format, if it records one. The first mapper in precedence order that answers wins.
   */
  step?(span: SourceSpan): MappedStep | undefined;
}

/** Log records that carry call content (semconv ≤ 1.36 events), joined to their span by id. */
export interface LogMapper {
  readonly format: SourceFormat;
  recognises(record: SourceLogRecord): boolean;
  map(record: SourceLogRecord, context: MapContext): MappedEvent;
}
