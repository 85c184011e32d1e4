import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  CallContentSchema,
  ContentEventFragmentSchema,
  ContentEventKind,
  EncryptedContentSchema,
  LlmCallSchema,
  MessagePartSchema,
  Role,
  StepFragmentSchema,
  StepKind,
  type ContentEventFragment,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { plainOnly } from '../testing/fragments.js';
import { assembleCall, type ContentSeal } from './assemble.js';
import type { CallPieces } from './joiner.js';

const call = create(LlmCallSchema, {
  tenantId: 'acme',
  traceId: 't',
  spanId: 'c1',
  callId: 'call-1',
  context: { parentSpanId: 'tool1', conversationId: '', attributes: { own: 'call' } },
});

function step(kind: StepKind, name: string, extra: object = {}) {
  return create(StepFragmentSchema, { kind, name, ...extra });
}

const text = (value: string) => ({ kind: { case: 'text' as const, value: { text: value } } });

function event(
  kind: ContentEventKind,
  seconds: number,
  content: MessageInitShape<typeof CallContentSchema>,
  choiceIndex = 0,
): ContentEventFragment {
  return create(ContentEventFragmentSchema, {
    time: { seconds: BigInt(seconds) },
    kind,
    choiceIndex,
    content: { case: 'plainContent', value: content },
    redaction: {
      redactorVersion: 'pii@1',
      entityCounts: { EMAIL: 1 },
      placeholders: ['<EMAIL_1>'],
    },
  });
}

function pieces(init: Partial<CallPieces>): CallPieces {
  return {
    call,
    events: [],
    ancestors: [],
    complete: true,
    reason: 'complete',
    arrivedAt: 0,
    traceParent: '',
    ...init,
  };
}

describe('assembleCall', () => {
  it('adds the context of the enclosing spans, the call span’s own winning', () => {
    const assembled = assembleCall(
      pieces({
        ancestors: [
          { spanId: 'tool1', step: step(StepKind.TOOL, 'lookup', { toolCallId: 'tc-1' }) },
          {
            spanId: 'task1',
            step: step(StepKind.TASK, 'classify', { attributes: { own: 'step', user: 'u1' } }),
          },
          { spanId: 'link', step: step(StepKind.UNSPECIFIED, '') },
          {
            spanId: 'agent1',
            step: step(StepKind.AGENT, 'triage', { agentId: 'ag-1', conversationId: 'conv-9' }),
          },
          { spanId: 'wf1', step: step(StepKind.WORKFLOW, 'support') },
        ],
      }),
      plainOnly,
    );
    expect(assembled.context).toMatchObject({
      agentName: 'triage',
      agentId: 'ag-1',
      workflowName: 'support',
      stepPath: ['support', 'triage', 'classify'],
      stepName: 'classify',
      enclosingToolName: 'lookup',
      enclosingToolCallId: 'tc-1',
      conversationId: 'conv-9',
      attributes: { own: 'call', user: 'u1' },
      ancestorSpanIds: ['wf1', 'agent1', 'link', 'task1', 'tool1'],
      parentSpanId: 'tool1',
    });
  });

  it('builds the content from events: inputs in time order, outputs by choice index', () => {
    const assembled = assembleCall(
      pieces({
        events: [
          event(
            ContentEventKind.OUTPUT_MESSAGE,
            5,
            { outputMessages: [{ role: Role.ASSISTANT, parts: [text('second')] }] },
            1,
          ),
          event(ContentEventKind.INPUT_MESSAGE, 2, {
            inputMessages: [{ role: Role.USER, parts: [text('question')] }],
          }),
          event(ContentEventKind.SYSTEM_INSTRUCTIONS, 1, {
            systemInstructions: [text('be brief')],
          }),
          event(
            ContentEventKind.OUTPUT_MESSAGE,
            6,
            { outputMessages: [{ role: Role.ASSISTANT, parts: [text('first')] }] },
            0,
          ),
        ],
      }),
      plainOnly,
    );
    expect(assembled.contentCaptured).toBe(true);
    const content = assembled.content.case === 'plainContent' ? assembled.content.value : undefined;
    expect(content?.systemInstructions).toEqual([create(MessagePartSchema, text('be brief'))]);
    expect(content?.inputMessages.map((m) => m.role)).toEqual([Role.USER]);
    expect(
      content?.outputMessages.flatMap((m) =>
        m.parts.map((p) => p.kind.case === 'text' && p.kind.value.text),
      ),
    ).toEqual(['first', 'second']);
    expect(assembled.redaction).toMatchObject({
      entityCounts: { EMAIL: 4 },
      placeholders: ['<EMAIL_1>'],
    });
  });

  it('takes the input of an event that also holds the output (semconv ≥ 1.37 details)', () => {
    const assembled = assembleCall(
      pieces({
        events: [
          event(ContentEventKind.OUTPUT_MESSAGE, 1, {
            systemInstructions: [text('be brief')],
            inputMessages: [{ role: Role.USER, parts: [text('question')] }],
            outputMessages: [{ role: Role.ASSISTANT, parts: [text('answer')] }],
          }),
        ],
      }),
      plainOnly,
    );
    const content = assembled.content.case === 'plainContent' ? assembled.content.value : undefined;
    expect(content?.systemInstructions).toHaveLength(1);
    expect(content?.inputMessages.map((m) => m.role)).toEqual([Role.USER]);
    expect(content?.outputMessages.map((m) => m.role)).toEqual([Role.ASSISTANT]);
  });

  it('marks a call whose events carried no content as not captured', () => {
    const assembled = assembleCall(
      pieces({
        events: [
          event(ContentEventKind.INPUT_MESSAGE, 1, {
            inputMessages: [{ role: Role.USER, parts: [] }],
          }),
          event(ContentEventKind.OUTPUT_MESSAGE, 2, {
            outputMessages: [{ role: Role.ASSISTANT, parts: [] }],
          }),
        ],
      }),
      plainOnly,
    );
    expect(assembled.contentCaptured).toBe(false);
    expect(assembled.content.case).toBeUndefined();
  });

  it('opens encrypted events and seals the joined content for the call', () => {
    const sealed = create(EncryptedContentSchema, { keyId: 'k1' });
    const seal: ContentSeal = {
      open: (_content, tenantId, callId) => {
        expect([tenantId, callId]).toEqual(['acme', 'call-1']);
        return create(CallContentSchema, {
          inputMessages: [{ role: Role.USER, parts: [text('secret')] }],
        });
      },
      seal: () => sealed,
    };
    const encrypted = create(ContentEventFragmentSchema, {
      kind: ContentEventKind.INPUT_MESSAGE,
      content: { case: 'encryptedContent', value: { keyId: 'k1' } },
    });
    const assembled = assembleCall(pieces({ events: [encrypted] }), seal);
    expect(assembled.content).toEqual({ case: 'encryptedContent', value: sealed });
  });
});
