import { create } from '@bufbuild/protobuf';
import {
  CallStatusCode,
  CaptureFragmentSchema,
  ContentEventKind,
  LlmCallSchema,
  Operation,
  Role,
  type CaptureFragment,
  type StepKind,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { ContentSeal } from '../domain/assemble.js';

/** Fragments of one trace of tenant `acme`, as the edge publishes them, for the joiner's tests. */
export const traceId = '0af7651916cd43dd8448eb211c80319c';
const meta = { tenantId: 'acme', eventId: 'e' };

/** A seal for plain content only, as without content keys. */
export const plainOnly: ContentSeal = {
  open: () => {
    throw new UnderstudyError(ErrorCode.FailedPrecondition, 'no content keys');
  },
  seal: () => undefined,
};

export function callFragment(
  spanId: string,
  parentSpanId = '',
  init: { awaitsEvents?: boolean; failed?: boolean; choices?: number; operation?: Operation } = {},
): CaptureFragment {
  return create(CaptureFragmentSchema, {
    meta,
    traceId,
    spanId,
    parentSpanId,
    kind: {
      case: 'call',
      value: {
        awaitsEvents: init.awaitsEvents ?? false,
        call: create(LlmCallSchema, {
          tenantId: 'acme',
          traceId,
          spanId,
          callId: `call-${spanId}`,
          operation: init.operation ?? Operation.CHAT,
          context: { parentSpanId },
          ...(init.choices !== undefined && { parameters: { choiceCount: init.choices } }),
          status: { code: init.failed ? CallStatusCode.ERROR : CallStatusCode.OK },
        }),
      },
    },
  });
}

export function stepFragment(
  spanId: string,
  parentSpanId: string,
  kind: StepKind,
  name = '',
): CaptureFragment {
  return create(CaptureFragmentSchema, {
    meta,
    traceId,
    spanId,
    parentSpanId,
    kind: { case: 'step', value: { kind, name } },
  });
}

export function eventFragment(
  spanId: string,
  output: boolean,
  text: string,
  choiceIndex = 0,
): CaptureFragment {
  const message = {
    role: output ? Role.ASSISTANT : Role.USER,
    parts: [{ kind: { case: 'text' as const, value: { text } } }],
  };
  return create(CaptureFragmentSchema, {
    meta,
    traceId,
    spanId,
    kind: {
      case: 'event',
      value: {
        choiceIndex,
        kind: output ? ContentEventKind.OUTPUT_MESSAGE : ContentEventKind.INPUT_MESSAGE,
        content: {
          case: 'plainContent',
          value: output ? { outputMessages: [message] } : { inputMessages: [message] },
        },
      },
    },
  });
}

export function emittedFragment(spanId: string): CaptureFragment {
  return create(CaptureFragmentSchema, {
    meta,
    traceId,
    spanId,
    kind: { case: 'emitted', value: { callId: `call-${spanId}` } },
  });
}
