import { create } from '@bufbuild/protobuf';
import {
  FinishReason,
  Operation,
  ResponseFormatType,
  Role,
  otlpTrace,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { keyValues, span, type Plain } from '../../testing/otlp-requests.js';
import { built, sourceSpanOf } from '../../testing/mapping.js';
import { genAiAttributes } from './genai-attributes.js';
import { genAiEvents } from './genai-events.js';
import { spanMappers } from './index.js';
import type { MapContext, SourceSpan } from './mapper.js';

interface SpanEvent {
  readonly name: string;
  readonly attributes: Record<string, Plain>;
}

function source(
  attributes: Record<string, Plain>,
  { name = 'chat gpt-4o-mini', events = [] }: { name?: string; events?: SpanEvent[] } = {},
): SourceSpan {
  const otlp = span({ name, attributes });
  otlp.events = events.map((event, index) =>
    create(otlpTrace.Span_EventSchema, {
      name: event.name,
      timeUnixNano: otlp.startTimeUnixNano + BigInt(index),
      attributes: keyValues(event.attributes),
    }),
  );
  return sourceSpanOf(otlp, '@opentelemetry/instrumentation-openai', '0.22.0');
}

const context: MapContext = {
  blob: () => {
    throw new Error('no media in these spans');
  },
};
/** What `@opentelemetry/instrumentation-openai` 0.22.0 sets on a chat completion span. */
const openAiChat = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.request.model': 'gpt-4o-mini',
  'gen_ai.system': 'openai',
  'server.address': '127.0.0.1',
  'server.port': 43733,
  'gen_ai.request.frequency_penalty': 0.2,
  'gen_ai.request.max_tokens': 64,
  'gen_ai.request.presence_penalty': 0.1,
  'gen_ai.request.stop_sequences': ['END'],
  'gen_ai.request.temperature': 0.2,
  'gen_ai.request.top_p': 0.9,
  'gen_ai.response.finish_reasons': ['stop'],
  'gen_ai.response.id': 'chatcmpl-518bc2b40a6dfc459a99c85a',
  'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
  'gen_ai.usage.input_tokens': 24,
  'gen_ai.usage.output_tokens': 8,
};

describe('OTel GenAI semconv ≤ 1.36 call spans', () => {
  it('maps a chat span whose content travels in log records, and waits for them', () => {
    const mapped = genAiEvents.map(source(openAiChat), context);
    expect(built(mapped)).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: 'gpt-4o-mini',
      responseModel: 'gpt-4o-mini-2024-07-18',
      responseId: 'chatcmpl-518bc2b40a6dfc459a99c85a',
      parameters: {
        temperature: 0.2,
        topP: 0.9,
        maxTokens: 64,
        stopSequences: ['END'],
        frequencyPenalty: 0.2,
        presencePenalty: 0.1,
      },
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 24, outputTokens: 8 },
      contentCaptured: false,
      content: { case: undefined },
    });
    expect(mapped.awaitsEvents).toBe(true);
    expect(mapped.streaming).toBeUndefined();
  });

  it('reads the Python openai-v2 request attributes of ≤ 1.36 (seed, response format)', () => {
    const mapped = genAiEvents.map(
      source({
        ...openAiChat,
        'gen_ai.openai.request.seed': 42,
        'gen_ai.openai.request.response_format': 'json_schema',
        'gen_ai.request.choice.count': 2,
      }),
      context,
    );
    expect(built(mapped).parameters).toMatchObject({
      seed: 42n,
      choiceCount: 2,
      responseFormat: { type: ResponseFormatType.JSON_SCHEMA },
    });
  });

  it('waits for no events from embeddings, which have none', () => {
    const mapped = genAiEvents.map(
      source(
        { ...openAiChat, 'gen_ai.operation.name': 'embeddings' },
        { name: 'embeddings text-embedding-3-small' },
      ),
      context,
    );
    expect(mapped.call.operation).toBe(Operation.EMBEDDINGS);
    expect(mapped.awaitsEvents).toBeUndefined();
  });

  it('still maps a failed call, which waits for the input events it did send', () => {
    const failed = source({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'fail-500',
      'gen_ai.system': 'openai',
      'error.type': 'InternalServerError',
    });
    failed.span.status = create(otlpTrace.StatusSchema, {
      code: otlpTrace.Status_StatusCode.ERROR,
      message: '500 The server had an error while processing your request.',
    });
    const mapped = genAiEvents.map(failed, context);
    expect(built(mapped)).toMatchObject({
      requestModel: 'fail-500',
      finishReasons: [],
      contentCaptured: false,
    });
    expect(mapped.awaitsEvents).toBe(true);
  });

  it('folds the 1.26 prompt and completion span events into the content', () => {
    const mapped = genAiEvents.map(
      source(
        { 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4' },
        {
          name: 'chat gpt-4',
          events: [
            {
              name: 'gen_ai.content.prompt',
              attributes: {
                'gen_ai.prompt': JSON.stringify([
                  { role: 'system', content: 'Be brief.' },
                  { role: 'user', content: 'What is the capital of France?' },
                ]),
              },
            },
            {
              name: 'gen_ai.content.completion',
              attributes: {
                'gen_ai.completion': JSON.stringify([
                  { role: 'assistant', content: 'Paris.', finish_reason: 'stop' },
                ]),
              },
            },
          ],
        },
      ),
      context,
    );
    expect(built(mapped)).toMatchObject({
      operation: Operation.CHAT,
      contentCaptured: true,
      content: {
        case: 'plainContent',
        value: {
          inputMessages: [
            { role: Role.SYSTEM, parts: [{ kind: { value: { text: 'Be brief.' } } }] },
            {
              role: Role.USER,
              parts: [{ kind: { value: { text: 'What is the capital of France?' } } }],
            },
          ],
          outputMessages: [
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.STOP,
              parts: [{ kind: { case: 'text', value: { text: 'Paris.' } } }],
            },
          ],
        },
      },
    });
    expect(mapped.awaitsEvents).toBeUndefined();
  });

  it('recognises 1.26 spans without `chat` in their name by their content events', () => {
    const legacy = source(
      { 'gen_ai.system': 'openai' },
      {
        name: 'ChatCompletions',
        events: [{ name: 'gen_ai.content.prompt', attributes: { 'gen_ai.prompt': 'Hi there' } }],
      },
    );
    expect(genAiEvents.recognises(legacy)).toBe(true);
    expect(built(genAiEvents.map(legacy, context)).content).toMatchObject({
      value: {
        inputMessages: [{ role: Role.USER, parts: [{ kind: { value: { text: 'Hi there' } } }] }],
      },
    });
    expect(
      genAiEvents.recognises(source({ 'gen_ai.system': 'openai' }, { name: 'openai.chat' })),
    ).toBe(false);
  });

  it('reads message events recorded on the span, their body in gen_ai.event.content', () => {
    const mapped = genAiEvents.map(
      source(openAiChat, {
        events: [
          {
            name: 'gen_ai.user.message',
            attributes: {
              'gen_ai.system': 'az.ai.inference',
              'gen_ai.event.content': JSON.stringify({ role: 'user', content: 'Weather in Oslo?' }),
            },
          },
          {
            name: 'gen_ai.choice',
            attributes: {
              'gen_ai.event.content': JSON.stringify({
                index: 0,
                finish_reason: 'tool_calls',
                message: {
                  tool_calls: [
                    {
                      id: 'call_1',
                      type: 'function',
                      function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
                    },
                  ],
                },
              }),
            },
          },
          { name: 'exception', attributes: { 'exception.type': 'Ignored' } },
        ],
      }),
      context,
    );
    expect(built(mapped).content).toMatchObject({
      value: {
        inputMessages: [
          { role: Role.USER, parts: [{ kind: { value: { text: 'Weather in Oslo?' } } }] },
        ],
        outputMessages: [
          {
            role: Role.ASSISTANT,
            finishReason: FinishReason.TOOL_CALLS,
            parts: [
              {
                kind: {
                  case: 'toolCall',
                  value: { id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
                },
              },
            ],
          },
        ],
      },
    });
    expect(mapped.awaitsEvents).toBeUndefined();
  });

  it('counts span events without content (capture off) as content not captured', () => {
    const mapped = genAiEvents.map(
      source(openAiChat, {
        events: [
          { name: 'gen_ai.user.message', attributes: { 'gen_ai.system': 'openai' } },
          { name: 'gen_ai.choice', attributes: { index: 0, finish_reason: 'stop' } },
        ],
      }),
      context,
    );
    expect(built(mapped)).toMatchObject({ contentCaptured: false, content: { case: undefined } });
    expect(mapped.awaitsEvents).toBeUndefined();
  });

  describe('precedence', () => {
    const first = (attributes: Record<string, Plain>, name = 'chat gpt-4o-mini') =>
      spanMappers.find((mapper) => mapper.recognises(source(attributes, { name })));

    it('takes a span with gen_ai.operation.name and no ≥ 1.37 attribute as ≤ 1.36', () => {
      expect(first(openAiChat)).toBe(genAiEvents);
    });

    it('leaves spans with any ≥ 1.37 attribute to the attribute mapper', () => {
      // e.g. the OpenAI Responses API spans of instrumentation-openai 0.22.0.
      expect(first({ ...openAiChat, 'gen_ai.provider.name': 'openai' })).toBe(genAiAttributes);
      for (const key of [
        'gen_ai.system_instructions',
        'gen_ai.input.messages',
        'gen_ai.output.messages',
        'gen_ai.tool.definitions',
      ]) {
        expect(first({ ...openAiChat, [key]: '[]' })).toBe(genAiAttributes);
      }
    });

    it('takes agent and tool spans as no call at all', () => {
      expect(
        first({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.system': 'openai' }),
      ).toBeUndefined();
      expect(
        first({ 'gen_ai.operation.name': 'invoke_agent' }, 'invoke_agent travel-agent'),
      ).toBeUndefined();
    });
  });
});
