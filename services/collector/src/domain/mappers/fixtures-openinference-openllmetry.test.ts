import { create } from '@bufbuild/protobuf';
import {
  FinishReason,
  Operation,
  ResponseFormatType,
  Role,
  StepKind,
  UsageSchema,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { answers, responseModel } from '../../testing/fake-openai.js';
import {
  model,
  question,
  reasoningPart,
  system,
  textPart,
  toolCall,
  toolCallPart,
  toolResultPart,
  weatherQuestion,
  weatherReport,
} from '../../testing/scenario-parts.js';
import { only, recordedFixture, type Scenario } from '../../testing/recorded.js';
import { openInference } from './openinference.js';
import { openLlmetryFlattened } from './openllmetry-flattened.js';
import { openLlmetryJson } from './openllmetry-json.js';

/**
 * What the mappers make of the spans recorded from the real OpenInference and OpenLLMetry
 * libraries (src/testing/fixtures, scenarios described in its README): every span of a
 * scenario's trace mapped as the collector maps them, in the collector's precedence order.
 */

const chatParameters = {
  temperature: 0.2,
  topP: 0.9,
  maxTokens: 64,
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
    additionalProperties: false,
  },
};
const capitalSchema = {
  type: 'object',
  properties: { city: { type: 'string' }, country: { type: 'string' } },
  required: ['city', 'country'],
  additionalProperties: false,
};

describe('@arizeai/openinference-instrumentation-openai 4.2.7 (OpenInference)', () => {
  const trace = recordedFixture('arizeai-openinference-instrumentation-openai@4.2.7');
  const session = (scenario: Scenario) => ({
    conversationId: `conversation-${scenario}`,
    attributes: { user_tier: 'pro' },
  });

  it('chat: every setting from the invocation parameters, the messages, session and metadata', () => {
    const { calls, steps } = trace('chat');
    const { mapper, mapped, call } = only(calls);
    expect(mapper).toBe(openInference);
    expect(mapped.streaming).toBeUndefined();
    expect(call).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: model,
      responseModel: responseModel(model),
      responseId: 'chatcmpl-518bc2b40a6dfc459a99c85a',
      parameters: { ...chatParameters, stopSequences: ['END'], seed: 42n, toolChoice: '' },
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 24, outputTokens: 8, cachedInputTokens: 0, reasoningTokens: 0 },
      contentCaptured: true,
      content: {
        value: {
          systemInstructions: [],
          inputMessages: [
            { role: Role.SYSTEM, parts: [textPart(system)] },
            { role: Role.USER, parts: [textPart(question)] },
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
      context: session('chat'),
    });
    expect(call.parameters?.other).toBeUndefined();
    expect(steps).toEqual({
      'travel-agent': { kind: StepKind.AGENT, name: 'travel-agent', ...session('chat') },
      chat: { kind: StepKind.TASK, name: 'chat', ...session('chat') },
    });
  });

  it('tools: tool choice and definition, the call, its result in the next prompt', () => {
    const { calls, steps } = trace('tools');
    const [first, second] = calls;
    expect(calls).toHaveLength(2);
    expect(first?.call).toMatchObject({
      parameters: { toolChoice: 'auto' },
      finishReasons: [FinishReason.TOOL_CALLS],
      usage: { inputTokens: 52, outputTokens: 17 },
      content: {
        value: {
          inputMessages: [{ role: Role.USER, parts: [textPart(weatherQuestion)] }],
          outputMessages: [
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.TOOL_CALLS,
              parts: [toolCallPart],
            },
          ],
          toolDefinitions: [weatherTool],
        },
      },
    });
    expect(second?.call).toMatchObject({
      usage: { inputTokens: 81, outputTokens: 12, cachedInputTokens: 64 },
      content: {
        value: {
          inputMessages: [
            { role: Role.USER, parts: [textPart(weatherQuestion)] },
            { role: Role.ASSISTANT, parts: [toolCallPart] },
            { role: Role.TOOL, parts: [toolResultPart] },
          ],
          outputMessages: [{ parts: [textPart(answers.afterTool.content)] }],
        },
      },
    });
    // The JS helpers name the TOOL span after the tool and record no call id.
    expect(steps['get_weather']).toEqual({
      kind: StepKind.TOOL,
      name: 'get_weather',
      toolCallId: '',
      ...session('tools'),
    });
  });

  it('stream: the stream flag; the model that answered is unknown, no usage', () => {
    const { mapped, call } = only(trace('stream').calls);
    expect(mapped.streaming).toEqual({});
    expect(call).toMatchObject({
      requestModel: model,
      responseModel: '',
      responseId: '',
      finishReasons: [FinishReason.STOP],
      content: { value: { outputMessages: [{ parts: [textPart(answers.text.content)] }] } },
    });
    expect(call.usage).toEqual(create(UsageSchema));
    expect(call.parameters?.other).toEqual({ stream_options: { include_usage: true } });
  });

  it('json: the response format with its schema', () => {
    const { call } = only(trace('json').calls);
    expect(call.parameters?.responseFormat).toMatchObject({
      type: ResponseFormatType.JSON_SCHEMA,
      schemaName: 'capital',
      jsonSchema: capitalSchema,
    });
    expect(call.content.value).toMatchObject({
      outputMessages: [{ parts: [textPart(answers.json.content)] }],
    });
  });

  it('responses: the output items of a response as one choice, its end from its status', () => {
    const { calls } = trace('responses');
    const [first, second] = calls;
    expect(calls).toHaveLength(2);
    expect(first?.call).toMatchObject({
      requestModel: model,
      responseModel: responseModel(model),
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
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.TOOL_CALLS,
              parts: [reasoningPart, toolCallPart],
            },
          ],
          toolDefinitions: [weatherTool],
        },
      },
    });
    expect(second?.call).toMatchObject({
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 81, outputTokens: 12, cachedInputTokens: 64 },
      content: {
        value: {
          inputMessages: [
            { role: Role.SYSTEM },
            { role: Role.USER },
            { role: Role.ASSISTANT, parts: [reasoningPart] },
            { role: Role.ASSISTANT, parts: [toolCallPart] },
            { role: Role.TOOL, parts: [toolResultPart] },
          ],
          outputMessages: [
            { finishReason: FinishReason.STOP, parts: [textPart(answers.afterTool.content)] },
          ],
        },
      },
    });
  });

  it('error: the failed call leaves no span, only the steps around it', () => {
    const { calls, steps } = trace('error');
    expect(calls).toEqual([]);
    expect(Object.keys(steps).sort()).toEqual(['error', 'travel-agent']);
  });

  it('capture off: __REDACTED__ input and output values are no content', () => {
    const { call } = only(trace('capture-off').calls);
    expect(call).toMatchObject({
      parameters: chatParameters,
      usage: { inputTokens: 24, outputTokens: 8 },
      contentCaptured: false,
      content: { case: undefined },
      context: session('capture-off'),
    });
  });
});

describe('@traceloop/instrumentation-openai 0.22.5 (OpenLLMetry flattened)', () => {
  const trace = recordedFixture('traceloop-instrumentation-openai@0.22.5');
  const associations = (scenario: Scenario) => ({
    conversationId: `conversation-${scenario}`,
    attributes: { session_id: `conversation-${scenario}`, user_id: 'user-7' },
  });

  it('chat: the vendor spelled OpenAI, llm.* penalties, flattened messages, SDK steps', () => {
    const { calls, steps } = trace('chat');
    const { mapper, mapped, call } = only(calls);
    expect(mapper).toBe(openLlmetryFlattened);
    expect(mapped.streaming).toBeUndefined();
    expect(call).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: model,
      responseModel: responseModel(model),
      responseId: '',
      parameters: { ...chatParameters, stopSequences: [] },
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 24, outputTokens: 8 },
      contentCaptured: true,
      content: {
        value: {
          inputMessages: [
            { role: Role.SYSTEM, parts: [textPart(system)] },
            { role: Role.USER, parts: [textPart(question)] },
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
    });
    expect(steps).toEqual({
      'trip-planner.workflow': {
        kind: StepKind.WORKFLOW,
        name: 'trip-planner',
        agentId: '',
        toolCallId: '',
        ...associations('chat'),
      },
      'chat.task': {
        kind: StepKind.TASK,
        name: 'chat',
        agentId: '',
        toolCallId: '',
        ...associations('chat'),
      },
    });
  });

  it('tools: functions as tool definitions; no ids, and the assistant turn recorded as null', () => {
    const { calls, steps } = trace('tools');
    const [first, second] = calls;
    expect(calls).toHaveLength(2);
    const unnamedCall = { kind: { case: 'toolCall', value: { ...toolCall, id: '' } } };
    expect(first?.call).toMatchObject({
      finishReasons: [FinishReason.TOOL_CALLS],
      content: {
        value: {
          outputMessages: [{ finishReason: FinishReason.TOOL_CALLS, parts: [unnamedCall] }],
          toolDefinitions: [weatherTool],
        },
      },
    });
    expect(second?.call).toMatchObject({
      usage: { inputTokens: 81, outputTokens: 12 },
      content: {
        value: {
          inputMessages: [
            { role: Role.USER, parts: [textPart(weatherQuestion)] },
            { role: Role.ASSISTANT, parts: [] },
            {
              role: Role.TOOL,
              parts: [
                { kind: { case: 'toolCallResponse', value: { id: '', response: weatherReport } } },
              ],
            },
          ],
          outputMessages: [{ parts: [textPart(answers.afterTool.content)] }],
        },
      },
    });
    expect(steps['get_weather.tool']).toEqual({
      kind: StepKind.TOOL,
      name: 'get_weather',
      agentId: '',
      toolCallId: '',
      ...associations('tools'),
    });
  });

  it('stream and json: nothing in the JS spans says the call streamed', () => {
    const stream = only(trace('stream').calls);
    expect(stream.mapped.streaming).toBeUndefined();
    expect(stream.call.usage).toEqual(create(UsageSchema));
    expect(only(trace('json').calls).call.content.value).toMatchObject({
      outputMessages: [{ parts: [textPart(answers.json.content)] }],
    });
  });

  it('responses: the Responses API is not instrumented', () => {
    const { calls, steps } = trace('responses');
    expect(calls).toEqual([]);
    expect(Object.keys(steps).sort()).toEqual([
      'get_weather.tool',
      'responses.task',
      'trip-planner.workflow',
    ]);
  });

  it('error and capture off: no failed call span; without content, no finish reason either', () => {
    expect(trace('error').calls).toEqual([]);
    expect(only(trace('capture-off').calls).call).toMatchObject({
      parameters: chatParameters,
      usage: { inputTokens: 24, outputTokens: 8 },
      finishReasons: [],
      contentCaptured: false,
      content: { case: undefined },
    });
  });
});

describe('@traceloop/instrumentation-openai 0.27.0 (OpenLLMetry JSON)', () => {
  const trace = recordedFixture('traceloop-instrumentation-openai@0.27.0');

  it('chat: taken from the semconv mapper by its scope; semconv fields, OpenLLMetry format', () => {
    const { calls, steps } = trace('chat');
    const { mapper, call } = only(calls);
    expect(mapper).toBe(openLlmetryJson);
    expect(call).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: model,
      responseModel: responseModel(model),
      responseId: 'chatcmpl-518bc2b40a6dfc459a99c85a',
      parameters: chatParameters,
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 24, outputTokens: 8 },
      contentCaptured: true,
      content: {
        value: {
          inputMessages: [
            { role: Role.SYSTEM, parts: [textPart(system)] },
            { role: Role.USER, parts: [textPart(question)] },
          ],
          outputMessages: [
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.STOP,
              parts: [textPart(answers.text.content)],
            },
          ],
        },
      },
    });
    expect(steps['chat.task']).toMatchObject({ kind: StepKind.TASK, name: 'chat' });
  });

  it('tools: ids kept, arguments written as an object come back as JSON text', () => {
    const { calls } = trace('tools');
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
    expect(second?.call.content.value).toMatchObject({
      inputMessages: [
        { role: Role.USER },
        { role: Role.ASSISTANT, parts: [toolCallPart] },
        { role: Role.TOOL, parts: [toolResultPart] },
      ],
    });
  });

  it('responses: the input items from the JSON text it records; no instructions, no tool call out', () => {
    const { calls } = trace('responses');
    const [first, second] = calls;
    expect(calls).toHaveLength(2);
    expect(first?.call).toMatchObject({
      responseId: expect.stringMatching(/^resp_/) as unknown,
      // It records the response's output text only, and calls every completed response a stop.
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 52, outputTokens: 17 },
      content: {
        value: {
          inputMessages: [{ role: Role.USER, parts: [textPart(weatherQuestion)] }],
          outputMessages: [{ finishReason: FinishReason.STOP, parts: [textPart('')] }],
          toolDefinitions: [],
        },
      },
    });
    expect(second?.call.content.value).toMatchObject({
      inputMessages: [
        { role: Role.USER, parts: [textPart(weatherQuestion)] },
        { role: Role.ASSISTANT, parts: [reasoningPart] },
        { role: Role.ASSISTANT, parts: [toolCallPart] },
        { role: Role.TOOL, parts: [toolResultPart] },
      ],
      outputMessages: [{ parts: [textPart(answers.afterTool.content)] }],
    });
  });

  it('stream, error and capture off', () => {
    const stream = only(trace('stream').calls);
    expect(stream.mapper).toBe(openLlmetryJson);
    expect(stream.mapped.streaming).toBeUndefined();
    expect(trace('error').calls).toEqual([]);
    expect(only(trace('capture-off').calls).call).toMatchObject({
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 24, outputTokens: 8 },
      contentCaptured: false,
    });
  });
});
