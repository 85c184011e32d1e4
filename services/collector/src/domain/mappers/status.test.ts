import { create } from '@bufbuild/protobuf';
import { CallStatusCode, otlpTrace } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { keyValues, span, type Plain } from '../../testing/otlp-requests.js';
import { sourceSpanOf } from '../../testing/mapping.js';
import type { SourceSpan } from './mapper.js';
import { statusOf } from './status.js';

const { ERROR, OK } = otlpTrace.Status_StatusCode;

function source(
  attributes: Record<string, Plain>,
  status: { code: otlpTrace.Status_StatusCode; message?: string } | undefined,
  exceptions: Record<string, Plain>[] = [],
): SourceSpan {
  const otlp = span({ attributes, ...(status && { status }) });
  for (const exception of exceptions) {
    otlp.events.push(
      create(otlpTrace.Span_EventSchema, { name: 'exception', attributes: keyValues(exception) }),
    );
  }
  return sourceSpanOf(otlp, 'ai');
}

const apiCallError = {
  'exception.type': 'AI_APICallError',
  'exception.message': 'The server had an error while processing your request.',
  'exception.stacktrace': 'AI_APICallError: The server had an error…',
};

describe('the status of a call', () => {
  it('is OK for an unset or OK status, even with an exception handled on the way', () => {
    for (const status of [undefined, { code: OK }]) {
      expect(statusOf(source({}, status, [apiCallError]))).toEqual({
        code: CallStatusCode.OK,
        errorType: '',
        errorMessage: '',
      });
    }
  });

  it('takes error.type and the status message of a failed call', () => {
    const failed = source(
      { 'error.type': 'InternalServerError' },
      { code: ERROR, message: '500 Oops' },
      [apiCallError],
    );
    expect(statusOf(failed)).toEqual({
      code: CallStatusCode.ERROR,
      errorType: 'InternalServerError',
      errorMessage: '500 Oops',
    });
    // `error.type` alone says the call failed.
    expect(statusOf(source({ 'error.type': '429' }, undefined))).toMatchObject({
      code: CallStatusCode.ERROR,
      errorType: '429',
    });
  });

  it('without error.type, names the error by the exception that ended the span', () => {
    const failed = source({}, { code: ERROR, message: 'The server had an error.' }, [
      { 'exception.type': 'RetryError', 'exception.message': 'retrying' },
      apiCallError,
    ]);
    expect(statusOf(failed)).toEqual({
      code: CallStatusCode.ERROR,
      errorType: 'AI_APICallError',
      errorMessage: 'The server had an error.',
    });
    expect(statusOf(source({}, { code: ERROR }, [apiCallError]))).toEqual({
      code: CallStatusCode.ERROR,
      errorType: 'AI_APICallError',
      errorMessage: 'The server had an error while processing your request.',
    });
  });

  it('leaves what a failed span does not say empty', () => {
    expect(statusOf(source({}, { code: ERROR }))).toEqual({
      code: CallStatusCode.ERROR,
      errorType: '',
      errorMessage: '',
    });
  });
});
