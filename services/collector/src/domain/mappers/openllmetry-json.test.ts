import { create } from '@bufbuild/protobuf';
import {
  FinishReason,
  Operation,
  ResponseFormatType,
  Role,
  SourceFormat,
  otlpTrace,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { span, type Plain } from '../../testing/otlp-requests.js';
import { built, noBlobs, sourceSpanOf } from '../../testing/mapping.js';
import { genAiAttributes } from './genai-attributes.js';
import { spanMappers } from './index.js';
import type { SourceSpan } from './mapper.js';
import { openInference } from './openinference.js';
import { openLlmetryFlattened } from './openllmetry-flattened.js';
import { openLlmetryJson } from './openllmetry-json.js';

const start = 1_750_000_000_000_000_000n;

function source(
  attributes: Record<string, Plain>,
  { scopeName = 'opentelemetry.instrumentation.anthropic', events = [] as string[] } = {},
): SourceSpan {
  const otlp = span({ name: 'anthropic.chat', attributes, startNanos: start });
  events.forEach((event, index) => {
    const timeUnixNano = start + BigInt(index + 1) * 100_000_000n;
    otlp.events.push(create(otlpTrace.Span_EventSchema, { name: event, timeUnixNano }));
  });
  return sourceSpanOf(otlp, scopeName, '0.60.0');
}

const textPart = (text: string) => ({ kind: { case: 'text', value: { text } } });
const schema = { type: 'object', properties: { city: { type: 'string' } } };

/** A semconv ≥ 1.37 chat span as any library writes it. */
const semconvChat = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'anthropic',
  'gen_ai.request.model': 'claude-sonnet-4',
  'gen_ai.input.messages': JSON.stringify([
    { role: 'user', parts: [{ type: 'text', content: 'Weather in Oslo?' }] },
  ]),
};

describe('OpenLLMetry, JSON messages', () => {
  it('maps the semconv attributes, and what only OpenLLMetry records', () => {
    const mapped = openLlmetryJson.map(
      source(
        {
          ...semconvChat,
          'gen_ai.provider.name': 'az.ai.openai',
          'gen_ai.response.model': 'claude-sonnet-4-20250514',
          'gen_ai.response.id': 'msg_01',
          'gen_ai.request.temperature': 0.2,
          'gen_ai.output.messages': JSON.stringify([
            {
              role: 'assistant',
              finish_reason: 'stop',
              parts: [
                { type: 'reasoning', content: 'Short answer.' },
                { type: 'refusal', content: 'No forecasts beyond today.' },
                { type: 'text', content: 'Cloudy.' },
              ],
            },
          ]),
          'gen_ai.response.finish_reasons': ['stop'],
          'gen_ai.request.structured_output_schema': JSON.stringify(schema),
          'gen_ai.request.reasoning_effort': 'high',
          'gen_ai.usage.input_tokens': 120,
          'gen_ai.usage.output_tokens': 30,
          'gen_ai.usage.total_tokens': 150,
          'gen_ai.usage.cache_read_input_tokens': 64,
          'gen_ai.usage.cache_creation_input_tokens': 16,
          'gen_ai.usage.reasoning_tokens': 10,
          'gen_ai.is_streaming': true,
          'gen_ai.conversation.id': 'conversation-9',
          'gen_ai.agent.name': 'planner',
          'traceloop.workflow.name': 'trip-planner',
          'traceloop.entity.path': 'plan',
          'traceloop.association.properties.user_id': 'user-7',
        },
        { events: ['gen_ai.content.completion.chunk', 'gen_ai.content.completion.chunk'] },
      ),
      noBlobs,
    );
    expect(mapped.streaming).toEqual({ firstTokenUnixNano: start + 100_000_000n });
    expect(built(mapped)).toMatchObject({
      operation: Operation.CHAT,
      provider: 'azure.ai.openai',
      requestModel: 'claude-sonnet-4',
      responseModel: 'claude-sonnet-4-20250514',
      responseId: 'msg_01',
      parameters: {
        temperature: 0.2,
        responseFormat: { type: ResponseFormatType.JSON_SCHEMA, jsonSchema: schema },
        other: { reasoning_effort: 'high' },
      },
      finishReasons: [FinishReason.STOP],
      usage: {
        inputTokens: 120,
        outputTokens: 30,
        cachedInputTokens: 64,
        cacheCreationInputTokens: 16,
        reasoningTokens: 10,
      },
      contentCaptured: true,
      content: {
        value: {
          inputMessages: [{ role: Role.USER, parts: [textPart('Weather in Oslo?')] }],
          outputMessages: [
            {
              finishReason: FinishReason.STOP,
              parts: [
                { kind: { case: 'reasoning', value: { text: 'Short answer.' } } },
                { kind: { case: 'refusal', value: { text: 'No forecasts beyond today.' } } },
                textPart('Cloudy.'),
              ],
            },
          ],
        },
      },
      context: {
        agentName: 'planner',
        workflowName: 'trip-planner',
        stepName: 'plan',
        stepPath: ['plan'],
        conversationId: 'conversation-9',
        attributes: { user_id: 'user-7' },
      },
    });
  });

  it('reads the semconv names of the token counts, and content capture off', () => {
    const call = built(
      openLlmetryJson.map(
        source(
          {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': 'openai',
            'gen_ai.usage.input_tokens': 24,
            'gen_ai.usage.cache_read.input_tokens': 8,
            'gen_ai.response.finish_reasons': ['tool_call'],
          },
          { scopeName: '@traceloop/instrumentation-openai' },
        ),
        noBlobs,
      ),
    );
    expect(call).toMatchObject({
      usage: { inputTokens: 24, cachedInputTokens: 8 },
      finishReasons: [FinishReason.TOOL_CALLS],
      contentCaptured: false,
    });
  });

  it('reads the JSON of a Responses API input the JS instrumentation writes as the user text', () => {
    const input = [
      { role: 'user', content: 'Weather in Oslo?' },
      {
        id: 'fc_1',
        type: 'function_call',
        call_id: 'call_1',
        name: 'get_weather',
        arguments: '{}',
      },
      { type: 'function_call_output', call_id: 'call_1', output: '12 °C' },
    ];
    const attributes = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.input.messages': JSON.stringify([
        { role: 'user', parts: [{ type: 'text', content: JSON.stringify(input) }] },
      ]),
      'gen_ai.output.messages': JSON.stringify([
        { role: 'assistant', finish_reason: 'stop', parts: [{ type: 'text', content: '12 °C.' }] },
      ]),
    };
    const map = (scopeName: string) =>
      built(openLlmetryJson.map(source(attributes, { scopeName }), noBlobs)).content.value;
    expect(map('@traceloop/instrumentation-openai')).toMatchObject({
      inputMessages: [
        { role: Role.USER, parts: [textPart('Weather in Oslo?')] },
        {
          role: Role.ASSISTANT,
          parts: [{ kind: { case: 'toolCall', value: { id: 'call_1', name: 'get_weather' } } }],
        },
        {
          role: Role.TOOL,
          parts: [
            { kind: { case: 'toolCallResponse', value: { id: 'call_1', response: '12 °C' } } },
          ],
        },
      ],
      outputMessages: [{ parts: [textPart('12 °C.')] }],
    });
    // The Python instrumentation translates the items itself: a user's text stays text.
    expect(map('opentelemetry.instrumentation.openai.v1')).toMatchObject({
      inputMessages: [{ role: Role.USER, parts: [textPart(JSON.stringify(input))] }],
    });
  });

  it('reads reasoning the Python instrumentation writes as the JSON of its summary blocks', () => {
    const call = built(
      openLlmetryJson.map(
        source(
          {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': 'openai',
            'gen_ai.output.messages': JSON.stringify([
              {
                role: 'assistant',
                parts: [
                  {
                    type: 'reasoning',
                    content: JSON.stringify([
                      { text: 'Find the city.', type: 'summary_text' },
                      { text: 'Call the tool.', type: 'summary_text' },
                    ]),
                  },
                ],
                finish_reason: 'tool_call',
              },
            ]),
          },
          { scopeName: 'opentelemetry.instrumentation.openai.v1' },
        ),
        noBlobs,
      ),
    );
    expect(call.content.value).toMatchObject({
      outputMessages: [
        {
          parts: [
            { kind: { case: 'reasoning', value: { text: 'Find the city.\nCall the tool.' } } },
          ],
        },
      ],
    });
  });

  it('waits for the message events of a span without messages (use_attributes=False)', () => {
    const attributes = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.is_streaming': false,
    };
    const scope = { scopeName: 'opentelemetry.instrumentation.openai.v1' };
    expect(openLlmetryJson.map(source(attributes, scope), noBlobs).awaitsEvents).toBe(true);
    const withMessages = { ...attributes, 'gen_ai.input.messages': '[]' };
    expect(openLlmetryJson.map(source(withMessages, scope), noBlobs).awaitsEvents).toBeUndefined();
  });

  it('recognises semconv calls that carry an OpenLLMetry mark, and leaves the rest to semconv', () => {
    const recognises = (attributes: Record<string, Plain>, scopeName?: string) =>
      openLlmetryJson.recognises(source(attributes, scopeName === undefined ? {} : { scopeName }));
    expect(recognises(semconvChat, '@traceloop/instrumentation-anthropic')).toBe(true);
    expect(recognises(semconvChat, 'opentelemetry.instrumentation.openai.v1')).toBe(true);
    expect(recognises({ ...semconvChat, 'traceloop.workflow.name': 'trip' })).toBe(true);
    expect(recognises({ ...semconvChat, 'gen_ai.usage.total_tokens': 3 })).toBe(true);
    expect(recognises({ ...semconvChat, 'gen_ai.is_streaming': false })).toBe(true);
    // The same scope name as OTel's own instrumentations, and no mark: plain semconv.
    expect(recognises(semconvChat)).toBe(false);
    expect(recognises(semconvChat, 'opentelemetry.instrumentation.openai_v2')).toBe(false);
    expect(
      recognises(
        { 'gen_ai.operation.name': 'execute_tool', 'traceloop.span.kind': 'tool' },
        '@traceloop/node-server-sdk',
      ),
    ).toBe(false);
  });

  it('takes its place in the precedence order: OpenInference, flattened, JSON, …, semconv', () => {
    const order = [openInference, openLlmetryFlattened, openLlmetryJson];
    expect(spanMappers.slice(0, 3)).toEqual(order);
    expect(spanMappers.indexOf(genAiAttributes)).toBeGreaterThan(2);
    const first = (attributes: Record<string, Plain>) =>
      spanMappers.find((mapper) => mapper.recognises(source(attributes)))?.format;
    expect(first({ ...semconvChat, 'traceloop.workflow.name': 'trip' })).toBe(
      SourceFormat.OPENLLMETRY_JSON,
    );
    expect(first(semconvChat)).toBe(SourceFormat.OTEL_GENAI_ATTRIBUTES);
    expect(first({ ...semconvChat, 'openinference.span.kind': 'LLM' })).toBe(
      SourceFormat.OPENINFERENCE,
    );
    expect(first({ 'llm.request.type': 'chat', 'gen_ai.system': 'openai' })).toBe(
      SourceFormat.OPENLLMETRY_FLATTENED,
    );
  });
});
