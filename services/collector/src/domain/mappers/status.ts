import type { MessageInitShape } from '@bufbuild/protobuf';
import { CallStatusCode, otlpTrace, type CallStatusSchema } from '@understudy/contracts';
import { attributesOf, text } from '../attributes.js';
import type { SourceSpan } from './mapper.js';

/** The span event OTel's `recordException` adds, semconv's record of an exception. */
const exceptionEvent = 'exception';

/**
 * Whether the call failed and why, the same in every format: a span with status ERROR or an
 * `error.type` failed. `error.type` names the error, else the `exception` event that ended the
 * span (several SDKs record the exception but set no `error.type`: the Vercel AI SDK, Python
 * OpenInference), with the status message, else the exception's message, as its description.
 */
export function statusOf({
  span,
  attributes,
}: SourceSpan): MessageInitShape<typeof CallStatusSchema> {
  const errorType = text(attributes['error.type']) ?? '';
  const failed = span.status?.code === otlpTrace.Status_StatusCode.ERROR || errorType !== '';
  if (!failed) return { code: CallStatusCode.OK, errorType: '', errorMessage: '' };
  const exception = span.events.findLast((event) => event.name === exceptionEvent);
  const thrown = exception === undefined ? {} : attributesOf(exception.attributes);
  return {
    code: CallStatusCode.ERROR,
    errorType: errorType || (text(thrown['exception.type']) ?? ''),
    errorMessage: span.status?.message || (text(thrown['exception.message']) ?? ''),
  };
}
