import {
  context,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';
import { UnderstudyError } from '@understudy/errors';

export interface WithSpanOptions extends Omit<SpanOptions, 'attributes'> {
  /** Parent context, e.g. one extracted from Kafka headers; the active context by default. */
  readonly parent?: Context;
}

/**
 * Runs `fn` inside an active span that ends when `fn` settles. A failure is recorded on the span
 * (exception event, error status, `error.type` = the UnderstudyError code or the error's name)
 * and rethrown unchanged.
 */
export async function withSpan<T>(
  tracer: Tracer,
  name: string,
  fn: (span: Span) => Promise<T> | T,
  attributes: Attributes = {},
  options: WithSpanOptions = {},
): Promise<T> {
  const { parent = context.active(), ...spanOptions } = options;
  return tracer.startActiveSpan(name, { ...spanOptions, attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks `span` as failed by `error`; for code that manages its own spans. */
export function recordFailure(span: Span, error: unknown): void {
  if (error instanceof Error) {
    span.recordException(error);
    span.setAttribute('error.type', error instanceof UnderstudyError ? error.code : error.name);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  } else {
    span.recordException(String(error));
    span.setAttribute('error.type', '_OTHER');
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
  }
}
