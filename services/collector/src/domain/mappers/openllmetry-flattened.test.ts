import { create } from '@bufbuild/protobuf';
import {
  FinishReason,
  Modality,
  Operation,
  ResponseFormatType,
  Role,
  StepKind,
  otlpTrace,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { span, type Plain } from '../../testing/otlp-requests.js';
import { blobStore, built, noBlobs, sourceSpanOf } from '../../testing/mapping.js';
import { genAiEvents } from './genai-events.js';
import type { SourceSpan } from './mapper.js';
import { openLlmetryFlattened } from './openllmetry-flattened.js';

const start = 1_750_000_000_000_000_000n;

function source(
  attributes: Record<string, Plain>,
  { name = 'openai.chat', events = [] as string[] } = {},
): SourceSpan {
  const otlp = span({ name, attributes, startNanos: start });
  events.forEach((event, index) => {
    const timeUnixNano = start + BigInt(index + 1) * 100_000_000n;
    otlp.events.push(create(otlpTrace.Span_EventSchema, { name: event, timeUnixNano }));
  });
  return sourceSpanOf(otlp, 'opentelemetry.instrumentation.openai.v1', '0.40.14');
}

const mapped = (attributes: Record<string, Plain>) =>
  built(openLlmetryFlattened.map(source(attributes), noBlobs));

const textPart = (text: string) => ({ kind: { case: 'text', value: { text } } });
const toolCallPart = (id: string, name: string, args: string) => ({
  kind: { case: 'toolCall', value: { id, name, arguments: args } },
});
const toolResult = (id: string, response: string) => ({
  kind: { case: 'toolCallResponse', value: { id, response } },
});
const weatherSchema = { type: 'object', properties: { city: { type: 'string' } } };

describe('OpenLLMetry, flattened attributes', () => {
  it('maps a Python chat call: ids, tool calls and results, usage under its names, context', () => {
    const call = mapped({
      'llm.request.type': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'chatcmpl-1',
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.top_p': 0.9,
      'llm.top_k': 5,
      'llm.frequency_penalty': 0.2,
      'llm.presence_penalty': 0.1,
      'llm.chat.stop_sequences': ['END'],
      'gen_ai.request.seed': 42,
      'gen_ai.request.structured_output_schema': JSON.stringify(weatherSchema),
      'llm.request.reasoning_effort': 'low',
      'llm.is_streaming': false,
      'gen_ai.prompt.0.role': 'system',
      'gen_ai.prompt.0.content': 'Be brief.',
      'gen_ai.prompt.1.role': 'user',
      'gen_ai.prompt.1.content': 'Weather in Oslo?',
      'gen_ai.prompt.2.role': 'assistant',
      'gen_ai.prompt.2.tool_calls.0.id': 'call_1',
      'gen_ai.prompt.2.tool_calls.0.name': 'get_weather',
      'gen_ai.prompt.2.tool_calls.0.arguments': '{"city":"Oslo"}',
      'gen_ai.prompt.3.role': 'tool',
      'gen_ai.prompt.3.tool_call_id': 'call_1',
      'gen_ai.prompt.3.content': '{"temperature_c":12}',
      'gen_ai.completion.0.role': 'assistant',
      'gen_ai.completion.0.finish_reason': 'stop',
      'gen_ai.completion.0.content': 'Cloudy, 12 °C.',
      'gen_ai.completion.1.role': 'assistant',
      'gen_ai.completion.1.finish_reason': 'tool_calls',
      'gen_ai.completion.1.tool_calls.0.id': 'call_2',
      'gen_ai.completion.1.tool_calls.0.name': 'get_time',
      'gen_ai.completion.1.tool_calls.0.arguments': '{}',
      'gen_ai.prompt.prompt_filter_results': '[]',
      'llm.request.functions.0.name': 'get_weather',
      'llm.request.functions.0.description': 'Weather for a city.',
      'llm.request.functions.0.parameters': JSON.stringify(weatherSchema),
      'gen_ai.usage.prompt_tokens': 120,
      'gen_ai.usage.completion_tokens': 30,
      'llm.usage.total_tokens': 150,
      'gen_ai.usage.cache_read_input_tokens': 64,
      'gen_ai.usage.cache_creation_input_tokens': 16,
      'llm.usage.reasoning_tokens': 10,
      'traceloop.workflow.name': 'trip-planner',
      'traceloop.entity.path': 'plan.lookup',
      'traceloop.association.properties.session_id': 'conversation-9',
      'traceloop.association.properties.user_id': 'user-7',
      'traceloop.association.properties.attempt': 2,
    });
    expect(call).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: 'gpt-4o',
      responseModel: 'gpt-4o-2024-08-06',
      responseId: 'chatcmpl-1',
      parameters: {
        temperature: 0.2,
        maxTokens: 64,
        topP: 0.9,
        topK: 5,
        seed: 42n,
        frequencyPenalty: 0.2,
        presencePenalty: 0.1,
        stopSequences: ['END'],
        responseFormat: { type: ResponseFormatType.JSON_SCHEMA, jsonSchema: weatherSchema },
        other: { reasoning_effort: 'low' },
      },
      finishReasons: [FinishReason.STOP, FinishReason.TOOL_CALLS],
      usage: {
        inputTokens: 120,
        outputTokens: 30,
        cachedInputTokens: 64,
        cacheCreationInputTokens: 16,
        reasoningTokens: 10,
      },
      contentCaptured: true,
      content: {
        case: 'plainContent',
        value: {
          inputMessages: [
            { role: Role.SYSTEM, parts: [textPart('Be brief.')] },
            { role: Role.USER, parts: [textPart('Weather in Oslo?')] },
            {
              role: Role.ASSISTANT,
              parts: [toolCallPart('call_1', 'get_weather', '{"city":"Oslo"}')],
            },
            { role: Role.TOOL, parts: [toolResult('call_1', '{"temperature_c":12}')] },
          ],
          outputMessages: [
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.STOP,
              parts: [textPart('Cloudy, 12 °C.')],
            },
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.TOOL_CALLS,
              parts: [toolCallPart('call_2', 'get_time', '{}')],
            },
          ],
          toolDefinitions: [
            {
              type: 'function',
              name: 'get_weather',
              description: 'Weather for a city.',
              parameters: weatherSchema,
            },
          ],
        },
      },
      context: {
        workflowName: 'trip-planner',
        stepName: 'lookup',
        stepPath: ['plan', 'lookup'],
        conversationId: 'conversation-9',
        attributes: { session_id: 'conversation-9', user_id: 'user-7', attempt: '2' },
      },
    });
  });

  it('reads content given as the provider’s blocks: images, audio, files, Anthropic tools', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const base64 = Buffer.from(png).toString('base64');
    const { blobs, context } = blobStore();
    const call = built(
      openLlmetryFlattened.map(
        source({
          'llm.request.type': 'chat',
          'gen_ai.system': 'Anthropic',
          'gen_ai.prompt.0.role': 'user',
          'gen_ai.prompt.0.content': JSON.stringify([
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${base64}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/a.jpg' } },
            { type: 'input_audio', input_audio: { data: base64, format: 'wav' } },
            { type: 'file', file: { file_id: 'file-1' } },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: base64 } },
          ]),
          'gen_ai.prompt.1.role': 'assistant',
          'gen_ai.prompt.1.content': JSON.stringify([{ type: 'text', text: 'Let me check.' }]),
          'gen_ai.prompt.1.tool_calls.0.id': 'toolu_1',
          'gen_ai.prompt.1.tool_calls.0.name': 'get_weather',
          'gen_ai.prompt.1.tool_calls.0.arguments': '{"city":"Oslo"}',
          'gen_ai.prompt.2.role': 'user',
          'gen_ai.prompt.2.content': JSON.stringify([
            {
              type: 'tool_result',
              tool_use_id: 'toolu_1',
              content: [{ type: 'text', text: '12' }],
            },
          ]),
          'gen_ai.prompt.3.role': 'user',
          'gen_ai.prompt.3.content': '[1, 2]',
          'llm.request.functions.0.name': 'get_weather',
          'llm.request.functions.0.input_schema': JSON.stringify(weatherSchema),
        }),
        context,
      ),
    );
    const stored = (key: string, modality: Modality, mimeType: string) => ({
      kind: {
        case: 'media',
        value: { modality, mimeType, location: { case: 'object', value: { key } } },
      },
    });
    expect(call).toMatchObject({
      provider: 'anthropic',
      content: {
        value: {
          inputMessages: [
            {
              role: Role.USER,
              parts: [
                textPart('What is this?'),
                stored('blob-1', Modality.IMAGE, 'image/png'),
                {
                  kind: {
                    case: 'media',
                    value: { location: { case: 'uri', value: 'https://example.com/a.jpg' } },
                  },
                },
                stored('blob-2', Modality.AUDIO, 'audio/wav'),
                {
                  kind: {
                    case: 'media',
                    value: {
                      modality: Modality.DOCUMENT,
                      location: { case: 'fileId', value: 'file-1' },
                    },
                  },
                },
                stored('blob-3', Modality.IMAGE, 'image/png'),
              ],
            },
            {
              role: Role.ASSISTANT,
              parts: [
                textPart('Let me check.'),
                toolCallPart('toolu_1', 'get_weather', '{"city":"Oslo"}'),
              ],
            },
            { role: Role.USER, parts: [toolResult('toolu_1', '12')] },
            // JSON that is not a list of content blocks is the user's text.
            { role: Role.USER, parts: [textPart('[1, 2]')] },
          ],
          toolDefinitions: [{ name: 'get_weather', parameters: weatherSchema }],
        },
      },
    });
    expect(blobs.map(({ mimeType }) => mimeType)).toEqual(['image/png', 'audio/wav', 'image/png']);
  });

  it('joins an Anthropic thinking completion to the answer, as reasoning', () => {
    const call = mapped({
      'llm.request.type': 'chat',
      'gen_ai.system': 'Anthropic',
      'gen_ai.prompt.0.role': 'user',
      'gen_ai.prompt.0.content': 'Weather in Oslo?',
      'gen_ai.completion.0.finish_reason': 'tool_use',
      'gen_ai.completion.0.role': 'thinking',
      'gen_ai.completion.0.content': 'I need the weather tool.',
      'gen_ai.completion.1.role': 'assistant',
      'gen_ai.completion.1.content': 'Checking.',
      'gen_ai.completion.1.tool_calls.0.id': 'toolu_1',
      'gen_ai.completion.1.tool_calls.0.name': 'get_weather',
      'gen_ai.completion.1.tool_calls.0.arguments': '{"city":"Oslo"}',
    });
    expect(call.finishReasons).toEqual([FinishReason.TOOL_CALLS]);
    expect(call.content.value).toMatchObject({
      outputMessages: [
        {
          role: Role.ASSISTANT,
          finishReason: FinishReason.TOOL_CALLS,
          parts: [
            { kind: { case: 'reasoning', value: { text: 'I need the weather tool.' } } },
            textPart('Checking.'),
            toolCallPart('toolu_1', 'get_weather', '{"city":"Oslo"}'),
          ],
        },
      ],
    });
  });

  it('maps refusals, filtered choices and the JS function call', () => {
    const call = mapped({
      'llm.request.type': 'chat',
      'gen_ai.completion.0.role': 'assistant',
      'gen_ai.completion.0.finish_reason': 'stop',
      'gen_ai.completion.0.refusal': 'I cannot help with that.',
      'gen_ai.completion.1.role': 'assistant',
      'gen_ai.completion.1.finish_reason': 'content_filter',
      'gen_ai.completion.1.content': 'FILTERED',
      'gen_ai.completion.2.role': 'assistant',
      'gen_ai.completion.2.finish_reason': 'function_call',
      'gen_ai.completion.2.content': '',
      'gen_ai.completion.2.function_call.name': 'get_time',
      'gen_ai.completion.2.function_call.arguments': '{"zone":"CET"}',
    });
    expect(call.finishReasons).toEqual([
      FinishReason.STOP,
      FinishReason.CONTENT_FILTER,
      FinishReason.TOOL_CALLS,
    ]);
    expect(call.content.value).toMatchObject({
      outputMessages: [
        { parts: [{ kind: { case: 'refusal', value: { text: 'I cannot help with that.' } } }] },
        { parts: [] },
        { parts: [toolCallPart('', 'get_time', '{"zone":"CET"}')] },
      ],
    });
  });

  it('maps completions and embeddings, and the indexed tool definitions', () => {
    const completion = mapped({
      'llm.request.type': 'completion',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-3.5-turbo-instruct',
      'gen_ai.prompt.0.role': 'user',
      'gen_ai.prompt.0.content': 'Say hi',
      'gen_ai.completion.0.role': 'assistant',
      'gen_ai.completion.0.content': 'Hi!',
      'gen_ai.completion.0.finish_reason': 'length',
    });
    expect(completion).toMatchObject({
      operation: Operation.TEXT_COMPLETION,
      finishReasons: [FinishReason.LENGTH],
      content: { value: { inputMessages: [{ parts: [textPart('Say hi')] }] } },
    });
    const embedding = mapped({
      'llm.request.type': 'embedding',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'text-embedding-3-small',
      'gen_ai.prompt.0.content': 'Oslo',
      'gen_ai.usage.prompt_tokens': 2,
    });
    expect(embedding).toMatchObject({
      operation: Operation.EMBEDDINGS,
      usage: { inputTokens: 2 },
      content: { value: { inputMessages: [{ role: Role.USER, parts: [textPart('Oslo')] }] } },
    });
    const tools = mapped({
      'gen_ai.operation.name': 'chat',
      'gen_ai.prompt.0.role': 'user',
      'gen_ai.prompt.0.content': 'Hi',
      'gen_ai.tool.definitions.0.name': 'get_weather',
      'gen_ai.tool.definitions.0.description': 'Weather.',
      'gen_ai.tool.definitions.0.parameters': JSON.stringify(weatherSchema),
    });
    expect(tools.content.value).toMatchObject({
      toolDefinitions: [
        { name: 'get_weather', description: 'Weather.', parameters: weatherSchema },
      ],
    });
  });

  it('without content: no content, the span-level finish reasons', () => {
    const call = mapped({
      'llm.request.type': 'chat',
      'gen_ai.system': 'AWS',
      'gen_ai.request.model': 'anthropic.claude-3-haiku',
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': 10,
    });
    expect(call).toMatchObject({
      provider: 'aws.bedrock',
      finishReasons: [FinishReason.STOP],
      contentCaptured: false,
      content: { case: undefined },
    });
  });

  it('marks streaming calls: the flag, and the first chunk event as first token', () => {
    const stream = (attributes: Record<string, Plain>, events: string[] = []) =>
      openLlmetryFlattened.map(
        source({ 'llm.request.type': 'chat', ...attributes }, { events }),
        noBlobs,
      ).streaming;
    expect(stream({ 'llm.is_streaming': true })).toEqual({});
    expect(stream({ 'llm.is_streaming': false })).toBeUndefined();
    expect(
      stream({ 'llm.is_streaming': true }, [
        'llm.content.completion.chunk',
        'llm.content.completion.chunk',
      ]),
    ).toEqual({ firstTokenUnixNano: start + 100_000_000n });
  });

  it('normalises the vendor names of older releases', () => {
    const provider = (system: string) =>
      mapped({ 'llm.request.type': 'chat', 'gen_ai.system': system }).provider;
    expect(provider('OpenAI')).toBe('openai');
    expect(provider('Azure')).toBe('azure.ai.openai');
    expect(provider('bedrock')).toBe('aws.bedrock');
    expect(provider('MistralAI')).toBe('mistral_ai');
    expect(provider('Google')).toBe('gcp.gen_ai');
    expect(provider('Watsonx')).toBe('ibm.watsonx.ai');
    expect(provider('Cohere')).toBe('cohere');
  });

  it('recognises flattened call spans only', () => {
    const recognises = (attributes: Record<string, Plain>) =>
      openLlmetryFlattened.recognises(source(attributes));
    expect(recognises({ 'llm.request.type': 'chat' })).toBe(true);
    expect(recognises({ 'gen_ai.prompt.0.content': 'Hi' })).toBe(true);
    expect(recognises({ 'llm.request.type': 'rerank' })).toBe(false);
    expect(recognises({ 'llm.request.type': 'unknown' })).toBe(false);
    expect(
      recognises({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.prompt.0.content': 'x' }),
    ).toBe(false);
    expect(recognises({ 'llm.request.type': 'chat', 'gen_ai.input.messages': '[]' })).toBe(false);
    expect(recognises({ 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai' })).toBe(false);
    // Nor does the ≤ 1.36 mapper take the JS spans (`gen_ai.system`, no operation name).
    expect(
      genAiEvents.recognises(source({ 'gen_ai.system': 'OpenAI', 'llm.request.type': 'chat' })),
    ).toBe(false);
  });

  it("answers for the SDK's workflow, task, agent and tool spans", () => {
    const step = (kind: string, name: string, attributes: Record<string, Plain> = {}) =>
      openLlmetryFlattened.step?.(
        source(
          {
            'traceloop.span.kind': kind,
            'traceloop.association.properties.session_id': 'conversation-9',
            ...attributes,
          },
          { name },
        ),
      );
    const shared = {
      agentId: '',
      conversationId: 'conversation-9',
      attributes: { session_id: 'conversation-9' },
    };
    expect(step('workflow', 'trip.workflow', { 'traceloop.entity.name': 'trip' })).toEqual({
      kind: StepKind.WORKFLOW,
      name: 'trip',
      toolCallId: '',
      ...shared,
    });
    expect(step('task', 'lookup.task')).toMatchObject({ kind: StepKind.TASK, name: 'lookup' });
    expect(
      step('agent', 'planner.agent', {
        'gen_ai.agent.id': 'agent-1',
        'gen_ai.conversation.id': 'conversation-10',
      }),
    ).toMatchObject({
      kind: StepKind.AGENT,
      name: 'planner',
      agentId: 'agent-1',
      conversationId: 'conversation-10',
    });
    expect(step('tool', 'get_weather.tool', { 'gen_ai.tool.call.id': 'call_1' })).toMatchObject({
      kind: StepKind.TOOL,
      name: 'get_weather',
      toolCallId: 'call_1',
    });
    expect(step('session', 'x.session')).toBeUndefined();
    expect(openLlmetryFlattened.step?.(source({ 'http.method': 'GET' }))).toBeUndefined();
  });
});
