import { FinishReason, Operation, Role, StepKind, otlpTrace } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { answers, responseModel } from '../../testing/fake-openai.js';
import {
  model,
  reasoningPart,
  system,
  textPart,
  toolCall,
  toolCallPart,
  toolResultPart,
  weatherQuestion,
} from '../../testing/scenario-parts.js';
import { only, recordedFixture, type Scenario } from '../../testing/recorded.js';
import { genAiAttributes } from './genai-attributes.js';
import { genAiEvents } from './genai-events.js';
import { vercelAi } from './vercel-ai.js';

/**
 * What the mappers make of the fixtures recorded from the real libraries
 * (src/testing/fixtures): one trace per scenario, every span and log record of it mapped as the
 * collector maps them.
 */

const chatParameters = {
  temperature: 0.2,
  topP: 0.9,
  maxTokens: 64,
  stopSequences: ['END'],
  presencePenalty: 0.1,
  frequencyPenalty: 0.2,
};
const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', description: 'City name' } },
    required: ['city'],
  },
};

describe('@opentelemetry/instrumentation-openai 0.22.0 (semconv 1.36, log events)', () => {
  const trace = recordedFixture('opentelemetry-instrumentation-openai@0.22.0', { logs: true });

  it('chat: the span holds the call, its log events the content', () => {
    const { calls, steps, events } = trace('chat');
    const { mapper, mapped, call } = only(calls);
    expect(mapper).toBe(genAiEvents);
    expect(mapped.awaitsEvents).toBe(true);
    expect(mapped.streaming).toBeUndefined();
    expect(call).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: model,
      responseModel: responseModel(model),
      responseId: 'chatcmpl-518bc2b40a6dfc459a99c85a',
      parameters: chatParameters,
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
    expect(steps['invoke_agent travel-agent']).toEqual({
      kind: StepKind.AGENT,
      name: 'travel-agent',
      agentId: 'agent-travel-1',
      conversationId: 'conversation-chat',
      toolCallId: '',
    });
  });

  it('tools: the tool call, its execution, and the call that reads its result', () => {
    const { calls, steps, events } = trace('tools');
    const [first, second] = calls;
    expect(calls).toHaveLength(2);
    expect(first?.call).toMatchObject({
      finishReasons: [FinishReason.TOOL_CALLS],
      usage: { inputTokens: 52, outputTokens: 17 },
    });
    expect(second?.call).toMatchObject({
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 81, outputTokens: 12 },
    });
    expect(events.map((event) => event.content.value)).toMatchObject([
      { inputMessages: [{ role: Role.USER }] },
      { outputMessages: [{ finishReason: FinishReason.TOOL_CALLS, parts: [toolCallPart] }] },
      { inputMessages: [{ role: Role.USER }] },
      { inputMessages: [{ role: Role.ASSISTANT, parts: [toolCallPart] }] },
      { inputMessages: [{ role: Role.TOOL, parts: [toolResultPart] }] },
      { outputMessages: [{ parts: [textPart(answers.afterTool.content)] }] },
    ]);
    expect(steps['execute_tool get_weather']).toMatchObject({
      kind: StepKind.TOOL,
      name: 'get_weather',
      toolCallId: toolCall.id,
    });
  });

  it('stream and json: the same call shape, nothing says the call streamed', () => {
    const stream = only(trace('stream').calls);
    expect(stream.mapped.streaming).toBeUndefined();
    expect(stream.call.usage).toMatchObject({ inputTokens: 24, outputTokens: 8 });
    expect(trace('json').events.at(-1)?.content.value).toMatchObject({
      outputMessages: [{ parts: [textPart(answers.json.content)] }],
    });
  });

  it('error: the failed call is mapped, and its only event is the question', () => {
    const { calls, events } = trace('error');
    const { mapped, call } = only(calls);
    expect(mapped.awaitsEvents).toBe(true);
    expect(call).toMatchObject({ requestModel: 'fail-500', finishReasons: [], usage: {} });
    expect(events.map((event) => event.content.value)).toMatchObject([
      { inputMessages: [{ role: Role.USER, parts: [textPart('This call fails.')] }] },
    ]);
  });

  it('responses: semconv ≥ 1.37 spans whose content comes in operation-details events', () => {
    const { calls, events } = trace('responses');
    const [first, second] = calls;
    expect(calls).toHaveLength(2);
    expect(first?.mapper).toBe(genAiAttributes);
    expect(first?.mapped.awaitsEvents).toBe(true);
    expect(first?.call).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: model,
      responseModel: responseModel(model),
      responseId: expect.stringMatching(/^resp_/) as unknown,
      finishReasons: [FinishReason.TOOL_CALLS],
      usage: { inputTokens: 52, outputTokens: 17 },
      // The instructions as the caller gave them: the events have them as a system message.
      content: { value: { systemInstructions: [textPart(system)], inputMessages: [] } },
    });
    expect(second?.call).toMatchObject({
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 81, outputTokens: 12 },
    });
    const systemMessage = { role: Role.SYSTEM, parts: [textPart(system)] };
    const question = { role: Role.USER, parts: [textPart(weatherQuestion)] };
    expect(events.map((event) => event.content.value)).toMatchObject([
      { inputMessages: [systemMessage, question], outputMessages: [] },
      {
        inputMessages: [],
        outputMessages: [
          {
            role: Role.ASSISTANT,
            finishReason: FinishReason.TOOL_CALLS,
            parts: [reasoningPart, toolCallPart],
          },
        ],
      },
      {
        inputMessages: [
          systemMessage,
          question,
          { role: Role.ASSISTANT, parts: [reasoningPart] },
          { role: Role.ASSISTANT, parts: [toolCallPart] },
          { role: Role.TOOL, parts: [toolResultPart] },
        ],
      },
      {
        outputMessages: [
          { finishReason: FinishReason.STOP, parts: [textPart(answers.afterTool.content)] },
        ],
      },
    ]);
  });

  it('capture off: the events still come, as messages without parts', () => {
    const { events } = trace('capture-off');
    expect(events.map((event) => event.content.value)).toMatchObject([
      { inputMessages: [{ role: Role.SYSTEM, parts: [] }] },
      { inputMessages: [{ role: Role.USER, parts: [] }] },
      { outputMessages: [{ role: Role.ASSISTANT, finishReason: FinishReason.STOP, parts: [] }] },
    ]);
  });
});

describe('Vercel AI SDK 6.0.325 (ai.* spans)', () => {
  const trace = recordedFixture('ai@6.0.325');
  const metadata = (scenario: Scenario) => ({
    conversationId: `conversation-${scenario}`,
    attributes: { conversationId: `conversation-${scenario}`, userTier: 'pro' },
  });

  it('chat: every setting, the prompt, the answer, the function as agent', () => {
    const { calls, steps } = trace('chat');
    const { mapper, mapped, call } = only(calls);
    expect(mapper).toBe(vercelAi);
    expect(mapped.streaming).toBeUndefined();
    expect(call).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: model,
      responseModel: responseModel(model),
      responseId: 'chatcmpl-27ee126035ef9b8f1572015a',
      parameters: { ...chatParameters, seed: 42n, toolChoice: '' },
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 24, outputTokens: 8, cachedInputTokens: 0, reasoningTokens: 0 },
      contentCaptured: true,
      content: {
        value: {
          inputMessages: [
            { role: Role.SYSTEM, parts: [textPart(system)] },
            { role: Role.USER, parts: [textPart('What is the capital of Norway?')] },
          ],
          outputMessages: [
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.STOP,
              parts: [textPart(answers.text.content)],
            },
          ],
          toolDefinitions: [],
        },
      },
      context: metadata('chat'),
    });
    expect(steps['ai.generateText']).toEqual({
      kind: StepKind.AGENT,
      name: 'travel-agent',
      ...metadata('chat'),
    });
    expect(steps['POST /api/chat']).toBeUndefined();
  });

  it('tools: two provider calls around one ai.toolCall', () => {
    const { calls, steps } = trace('tools');
    const [first, second] = calls;
    expect(calls).toHaveLength(2);
    expect(first?.call).toMatchObject({
      parameters: { toolChoice: 'auto' },
      finishReasons: [FinishReason.TOOL_CALLS],
      usage: { inputTokens: 52, outputTokens: 17 },
      content: {
        value: {
          outputMessages: [{ finishReason: FinishReason.TOOL_CALLS, parts: [toolCallPart] }],
          toolDefinitions: [weatherTool],
        },
      },
    });
    expect(second?.call).toMatchObject({
      usage: { inputTokens: 81, outputTokens: 12, cachedInputTokens: 64 },
      content: {
        value: {
          inputMessages: [
            { role: Role.USER },
            {
              role: Role.ASSISTANT,
              parts: [
                { kind: { case: 'toolCall', value: { id: toolCall.id, name: toolCall.name } } },
              ],
            },
            { role: Role.TOOL, parts: [toolResultPart] },
          ],
          outputMessages: [{ parts: [textPart(answers.afterTool.content)] }],
        },
      },
    });
    expect(steps['ai.toolCall']).toEqual({
      kind: StepKind.TOOL,
      name: 'get_weather',
      toolCallId: toolCall.id,
      ...metadata('tools'),
    });
  });

  it('stream: the first chunk, from ai.response.msToFirstChunk', () => {
    const { spans, calls } = trace('stream');
    const source = spans.find((span) => span.span.name === 'ai.streamText.doStream');
    const { mapped, call } = only(calls);
    const firstChunk = source?.span.events.find((event) => event.name === 'ai.stream.firstChunk');
    const firstToken = mapped.streaming?.firstTokenUnixNano ?? 0n;
    // The event is recorded when the attribute's milliseconds were measured.
    expect(Math.abs(Number((firstChunk?.timeUnixNano ?? 0n) - firstToken))).toBeLessThan(1e6);
    expect(firstToken).toBeGreaterThan(source?.span.startTimeUnixNano ?? 0n);
    expect(call.content.value).toMatchObject({
      outputMessages: [{ parts: [textPart(answers.text.content)] }],
    });
  });

  it('json and error: the JSON answer; the failed call with its prompt only', () => {
    expect(only(trace('json').calls).call.content.value).toMatchObject({
      outputMessages: [{ parts: [textPart(answers.json.content)] }],
    });
    const failed = only(trace('error').calls);
    expect(failed.call).toMatchObject({
      requestModel: 'fail-500',
      finishReasons: [],
      content: {
        value: {
          inputMessages: [{ parts: [textPart('This call fails.')] }],
          outputMessages: [],
        },
      },
    });
  });

  it('responses: the reasoning of a Responses API model, before its tool call and in the history', () => {
    const { calls } = trace('responses');
    const [first, second] = calls;
    expect(calls).toHaveLength(2);
    expect(first?.call).toMatchObject({
      provider: 'openai',
      responseId: expect.stringMatching(/^resp_/) as unknown,
      finishReasons: [FinishReason.TOOL_CALLS],
      usage: { inputTokens: 52, outputTokens: 17, reasoningTokens: answers.reasoning.tokens },
      content: {
        value: {
          inputMessages: [
            { role: Role.SYSTEM, parts: [textPart(system)] },
            { role: Role.USER, parts: [textPart(weatherQuestion)] },
          ],
          outputMessages: [
            { finishReason: FinishReason.TOOL_CALLS, parts: [reasoningPart, toolCallPart] },
          ],
          toolDefinitions: [
            {
              ...weatherTool,
              parameters: { ...weatherTool.parameters, additionalProperties: false },
            },
          ],
        },
      },
    });
    expect(second?.call.content.value).toMatchObject({
      inputMessages: [
        { role: Role.SYSTEM },
        { role: Role.USER },
        { role: Role.ASSISTANT, parts: [reasoningPart, toolCallPart] },
        { role: Role.TOOL, parts: [toolResultPart] },
      ],
      outputMessages: [{ parts: [textPart(answers.afterTool.content)] }],
    });
  });

  it('embed: one call per provider request (doEmbed), no content; embed and embedMany as steps', () => {
    const { calls, steps } = trace('embed');
    expect(calls.map(({ call }) => call)).toMatchObject([
      {
        operation: Operation.EMBEDDINGS,
        provider: 'openai',
        requestModel: 'text-embedding-3-small',
        usage: { inputTokens: answers.embedding.tokensPerInput },
        contentCaptured: false,
        context: metadata('embed'),
      },
      {
        operation: Operation.EMBEDDINGS,
        usage: { inputTokens: 2 * answers.embedding.tokensPerInput },
      },
    ]);
    expect(steps['ai.embed']).toEqual({
      kind: StepKind.TASK,
      name: 'travel-agent',
      ...metadata('embed'),
    });
    expect(steps['ai.embedMany']).toMatchObject({ kind: StepKind.TASK, name: 'travel-agent' });
  });

  it('capture off: the call without content', () => {
    expect(only(trace('capture-off').calls).call).toMatchObject({
      parameters: chatParameters,
      usage: { inputTokens: 24, outputTokens: 8 },
      contentCaptured: false,
      content: { case: undefined },
    });
  });
});

describe('Vercel AI SDK 7.0.173 + @ai-sdk/otel (semconv ≥ 1.37 attributes)', () => {
  const trace = recordedFixture('ai@7.0.173');

  it('chat: system instructions apart, the invoke_agent span as agent, agent_step as nothing', () => {
    const { calls, steps } = trace('chat');
    const { mapper, call } = only(calls);
    expect(mapper).toBe(genAiAttributes);
    expect(call).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: model,
      responseModel: responseModel(model),
      parameters: chatParameters,
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 24, outputTokens: 8, cachedInputTokens: 0 },
      content: {
        value: {
          systemInstructions: [textPart(system)],
          inputMessages: [{ role: Role.USER, parts: [textPart('What is the capital of Norway?')] }],
          outputMessages: [
            { finishReason: FinishReason.STOP, parts: [textPart(answers.text.content)] },
          ],
        },
      },
    });
    expect(steps['invoke_agent travel-agent']).toMatchObject({
      kind: StepKind.AGENT,
      name: 'travel-agent',
    });
    expect(steps['step 1']).toBeUndefined();
  });

  it('tools: `tool-calls` and tool definitions with an inputSchema', () => {
    const { calls, steps } = trace('tools');
    const [first, second] = calls;
    expect(first?.call).toMatchObject({
      finishReasons: [FinishReason.TOOL_CALLS],
      content: {
        value: {
          outputMessages: [{ finishReason: FinishReason.TOOL_CALLS, parts: [toolCallPart] }],
          toolDefinitions: [weatherTool],
        },
      },
    });
    expect(second?.call).toMatchObject({
      usage: { inputTokens: 81, outputTokens: 12, cachedInputTokens: 64 },
      content: {
        value: {
          inputMessages: [
            { role: Role.USER },
            { role: Role.ASSISTANT, parts: [toolCallPart] },
            { role: Role.TOOL, parts: [toolResultPart] },
          ],
        },
      },
    });
    expect(steps['execute_tool get_weather']).toMatchObject({
      kind: StepKind.TOOL,
      name: 'get_weather',
      toolCallId: toolCall.id,
    });
  });

  it('stream: the first chunk from gen_ai.client.operation.time_to_first_chunk', () => {
    const { spans, calls } = trace('stream');
    const { mapped } = only(calls);
    const chat = spans.find((span) => span.span.kind === otlpTrace.Span_SpanKind.CLIENT);
    const seconds = chat?.attributes['gen_ai.client.operation.time_to_first_chunk'];
    expect(typeof seconds).toBe('number');
    expect(mapped.streaming).toEqual({
      firstTokenUnixNano:
        (chat?.span.startTimeUnixNano ?? 0n) + BigInt(Math.round(Number(seconds) * 1e9)),
    });
  });

  it('responses: instructions apart, reasoning before the tool call and in the history', () => {
    const { calls } = trace('responses');
    const [first, second] = calls;
    expect(calls).toHaveLength(2);
    expect(first?.call).toMatchObject({
      finishReasons: [FinishReason.TOOL_CALLS],
      content: {
        value: {
          systemInstructions: [textPart(system)],
          inputMessages: [{ role: Role.USER, parts: [textPart(weatherQuestion)] }],
          outputMessages: [
            { finishReason: FinishReason.TOOL_CALLS, parts: [reasoningPart, toolCallPart] },
          ],
        },
      },
    });
    expect(second?.call.content.value).toMatchObject({
      inputMessages: [
        { role: Role.USER },
        { role: Role.ASSISTANT, parts: [reasoningPart, toolCallPart] },
        { role: Role.TOOL, parts: [toolResultPart] },
      ],
      outputMessages: [{ parts: [textPart(answers.afterTool.content)] }],
    });
  });

  it('embed: an embeddings span per embed and embedMany around that of its provider request', () => {
    const { spans, calls } = trace('embed');
    expect(calls).toHaveLength(4);
    expect(calls.every(({ call }) => call.operation === Operation.EMBEDDINGS)).toBe(true);
    // Only the inner ones are provider requests, with usage: the joiner counts the outer ones
    // as links.
    const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
    const embeddings = spans.filter(({ span }) => span.name.startsWith('embeddings '));
    const ids = new Set(embeddings.map(({ span }) => hex(span.spanId)));
    const inner = embeddings.filter(({ span }) => ids.has(hex(span.parentSpanId)));
    const outer = new Set(inner.map(({ span }) => hex(span.parentSpanId)));
    expect(inner.map(({ attributes }) => attributes['gen_ai.usage.input_tokens']).sort()).toEqual([
      answers.embedding.tokensPerInput,
      2 * answers.embedding.tokensPerInput,
    ]);
    expect(
      spans
        .filter(({ span }) => outer.has(hex(span.spanId)))
        .map(({ span, attributes }) => [span.name, attributes['gen_ai.usage.input_tokens']]),
    ).toEqual([
      ['embeddings text-embedding-3-small', undefined],
      ['embeddings text-embedding-3-small', undefined],
    ]);
  });

  it('error and capture off: the failed call with its prompt; the call without content', () => {
    expect(only(trace('error').calls).call).toMatchObject({
      requestModel: 'fail-500',
      content: { value: { inputMessages: [{ parts: [textPart('This call fails.')] }] } },
    });
    expect(only(trace('capture-off').calls).call).toMatchObject({
      parameters: chatParameters,
      contentCaptured: false,
    });
  });
});
