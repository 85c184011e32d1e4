import { FinishReason, Operation, Role } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { answers } from '../../testing/fake-openai.js';
import {
  reasoningPart,
  system,
  textPart,
  toolCall,
  toolCallPart,
  toolResultPart,
  weatherQuestion,
  weatherReport,
} from '../../testing/scenario-parts.js';
import { only, recordedFixture } from '../../testing/recorded.js';
import { openInference } from './openinference.js';
import { openLlmetryJson } from './openllmetry-json.js';

/**
 * What the mappers make of the fixtures recorded from the PyPI instrumentations
 * (src/testing/fixtures), where they differ from their JS counterparts: the Responses API, and
 * OpenLLMetry's content events.
 */

describe('PyPI opentelemetry-instrumentation-openai 0.62.4 (OpenLLMetry, attributes)', () => {
  const trace = recordedFixture('pypi-opentelemetry-instrumentation-openai@0.62.4');

  it('responses: reasoning from its summary JSON; the call named by its item id, not call_id', () => {
    const { calls } = trace('responses');
    const [first, second] = calls;
    expect(calls).toHaveLength(2);
    expect(first?.mapper).toBe(openLlmetryJson);
    const itemCall = {
      kind: { case: 'toolCall', value: { ...toolCall, id: answers.toolCallItemId } },
    };
    expect(first?.call).toMatchObject({
      finishReasons: [FinishReason.TOOL_CALLS],
      usage: { inputTokens: 52, outputTokens: 17, reasoningTokens: answers.reasoning.tokens },
      content: {
        value: {
          inputMessages: [
            { role: Role.SYSTEM, parts: [textPart(system)] },
            { role: Role.USER, parts: [textPart(weatherQuestion)] },
          ],
          outputMessages: [
            { finishReason: FinishReason.TOOL_CALLS, parts: [reasoningPart, itemCall] },
          ],
        },
      },
    });
    // The reasoning item sent back is left out of the history; the result has the call_id.
    expect(second?.call.content.value).toMatchObject({
      inputMessages: [
        { role: Role.SYSTEM },
        { role: Role.USER },
        { role: Role.ASSISTANT, parts: [itemCall] },
        { role: Role.TOOL, parts: [toolResultPart] },
      ],
      outputMessages: [{ parts: [textPart(answers.afterTool.content)] }],
    });
  });
});

describe('PyPI opentelemetry-instrumentation-openai 0.62.4, use_attributes=False (events)', () => {
  const trace = recordedFixture('pypi-opentelemetry-instrumentation-openai@0.62.4+events', {
    logs: true,
  });

  it('chat: the span without content waits for its semconv 1.36 message events', () => {
    const { calls, events } = trace('chat');
    const { mapper, mapped, call } = only(calls);
    expect(mapper).toBe(openLlmetryJson);
    expect(mapped.awaitsEvents).toBe(true);
    expect(call).toMatchObject({
      operation: Operation.CHAT,
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 24, outputTokens: 8 },
      contentCaptured: false,
    });
    expect(events.map((event) => [event.choiceIndex, event.content.value])).toMatchObject([
      [0, { inputMessages: [{ role: Role.SYSTEM, parts: [textPart(system)] }] }],
      [
        0,
        {
          inputMessages: [{ role: Role.USER, parts: [textPart('What is the capital of Norway?')] }],
        },
      ],
      [
        0,
        {
          outputMessages: [
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.STOP,
              parts: [textPart(answers.text.content)],
            },
          ],
        },
      ],
    ]);
  });

  it('tools: the tool calls beside the choice; a tool message without the id it answers', () => {
    const { events } = trace('tools');
    expect(events.map((event) => event.content.value)).toMatchObject([
      { inputMessages: [{ role: Role.USER }] },
      { outputMessages: [{ finishReason: FinishReason.TOOL_CALLS, parts: [toolCallPart] }] },
      { inputMessages: [{ role: Role.USER }] },
      { inputMessages: [{ role: Role.ASSISTANT, parts: [toolCallPart] }] },
      {
        inputMessages: [
          {
            role: Role.TOOL,
            parts: [
              { kind: { case: 'toolCallResponse', value: { id: '', response: weatherReport } } },
            ],
          },
        ],
      },
      { outputMessages: [{ parts: [textPart(answers.afterTool.content)] }] },
    ]);
  });

  it('responses: Responses API calls keep their content in the span, and wait for nothing', () => {
    const { calls, events } = trace('responses');
    expect(calls).toHaveLength(2);
    expect(calls.map(({ mapped }) => mapped.awaitsEvents)).toEqual([undefined, undefined]);
    expect(calls[0]?.call.contentCaptured).toBe(true);
    expect(events).toEqual([]);
  });

  it('capture off: the events still come, without content', () => {
    const { events } = trace('capture-off');
    expect(events.map((event) => event.content.value)).toMatchObject([
      { inputMessages: [{ role: Role.SYSTEM, parts: [] }] },
      { inputMessages: [{ role: Role.USER, parts: [] }] },
      { outputMessages: [{ finishReason: FinishReason.STOP, parts: [] }] },
    ]);
  });
});

describe('PyPI openinference-instrumentation-openai 0.1.66 (OpenInference)', () => {
  const trace = recordedFixture('pypi-openinference-instrumentation-openai@0.1.66');

  it('responses: one choice of the output items, its end from the status', () => {
    const { calls } = trace('responses');
    const [first, second] = calls;
    expect(first?.mapper).toBe(openInference);
    expect(first?.call).toMatchObject({
      responseId: expect.stringMatching(/^resp_/) as unknown,
      finishReasons: [FinishReason.TOOL_CALLS],
      parameters: { toolChoice: 'auto' },
      content: {
        value: {
          outputMessages: [
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.TOOL_CALLS,
              parts: [reasoningPart, toolCallPart],
            },
          ],
        },
      },
    });
    expect(second?.call).toMatchObject({
      finishReasons: [FinishReason.STOP],
      content: {
        value: {
          inputMessages: [
            { role: Role.SYSTEM },
            { role: Role.USER },
            { role: Role.ASSISTANT, parts: [reasoningPart] },
            { role: Role.ASSISTANT, parts: [toolCallPart] },
            { role: Role.TOOL, parts: [toolResultPart] },
          ],
        },
      },
    });
  });
});

describe('PyPI opentelemetry-instrumentation-openai-v2 2.4b0', () => {
  it('responses: the Responses API is not instrumented', () => {
    const trace = recordedFixture('pypi-opentelemetry-instrumentation-openai-v2@2.4b0');
    expect(trace('responses').calls).toEqual([]);
  });
});
