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
import { keyValues, span, type Plain } from '../../testing/otlp-requests.js';
import { blobStore, built, sourceSpanOf } from '../../testing/mapping.js';
import { spanMappers } from './index.js';
import type { SourceSpan } from './mapper.js';
import { vercelAi } from './vercel-ai.js';

const start = 1_795_541_816_428_000_000n;

function source(
  name: string,
  attributes: Record<string, Plain>,
  events: { name: string; timeUnixNano: bigint; attributes?: Record<string, Plain> }[] = [],
): SourceSpan {
  const otlp = span({ name, attributes, startNanos: start });
  otlp.events = events.map((event) =>
    create(otlpTrace.Span_EventSchema, {
      name: event.name,
      timeUnixNano: event.timeUnixNano,
      attributes: keyValues(event.attributes ?? {}),
    }),
  );
  return sourceSpanOf(otlp, 'ai');
}

/** What every AI SDK span of one `generateText` call with telemetry metadata carries. */
function base(operationId: string): Record<string, Plain> {
  return {
    'operation.name': `${operationId} travel-agent`,
    'resource.name': 'travel-agent',
    'ai.operationId': operationId,
    'ai.telemetry.functionId': 'travel-agent',
    'ai.model.provider': 'openai.chat',
    'ai.model.id': 'gpt-4o-mini',
    'ai.settings.maxRetries': 2,
    'ai.telemetry.metadata.sessionId': 'session-7',
    'ai.telemetry.metadata.userTier': 'pro',
    'ai.telemetry.metadata.beta': true,
    'ai.request.headers.user-agent': 'ai/6.0.325',
  };
}

const text = (value: string) => ({ kind: { case: 'text', value: { text: value } } });

describe('Vercel AI SDK ≤ v6 telemetry', () => {
  it('maps a v6 doGenerate span field by field', () => {
    const { blobs, context } = blobStore();
    const mapped = vercelAi.map(
      source('ai.generateText.doGenerate', {
        ...base('ai.generateText.doGenerate'),
        'ai.settings.maxOutputTokens': 64,
        'ai.settings.temperature': 0.2,
        'ai.settings.topP': 0.9,
        'ai.settings.topK': 40,
        'ai.settings.presencePenalty': 0.1,
        'ai.settings.frequencyPenalty': 0.2,
        'ai.settings.stopSequences': ['END'],
        'ai.settings.seed': 42,
        'ai.prompt.messages': JSON.stringify([
          { role: 'system', content: 'You are a concise travel assistant.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Weather here?' },
              { type: 'file', mediaType: 'image/png', data: 'iVBORw==' },
              { type: 'file', mediaType: 'application/pdf', data: 'https://x/plan.pdf' },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'reasoning', text: 'Need the city first.' },
              {
                type: 'tool-call',
                toolCallId: 'call_1',
                toolName: 'get_weather',
                input: { city: 'Oslo' },
              },
            ],
          },
          {
            role: 'tool',
            content: [
              {
                type: 'tool-result',
                toolCallId: 'call_1',
                toolName: 'get_weather',
                output: { type: 'json', value: { temperature_c: 12 } },
              },
            ],
          },
        ]),
        'ai.prompt.tools': [
          JSON.stringify({
            type: 'function',
            name: 'get_weather',
            description: 'Current weather for a city.',
            inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
          }),
          JSON.stringify({
            type: 'provider',
            id: 'openai.web_search',
            name: 'web_search',
            args: {},
          }),
        ],
        'ai.prompt.toolChoice': JSON.stringify({ type: 'tool', toolName: 'get_weather' }),
        'gen_ai.system': 'openai.chat',
        'gen_ai.request.model': 'gpt-4o-mini',
        'ai.response.finishReason': 'tool-calls',
        'ai.response.reasoning': 'Oslo it is.',
        'ai.response.text': 'Let me check.',
        'ai.response.toolCalls': JSON.stringify([
          { toolCallId: 'call_2', toolName: 'get_weather', input: '{"city":"Oslo"}' },
        ]),
        'ai.response.id': 'chatcmpl-cc13e3731723c1be74eca2b2',
        'ai.response.model': 'gpt-4o-mini-2024-07-18',
        'ai.usage.inputTokens': 81,
        'ai.usage.inputTokenDetails.noCacheTokens': 17,
        'ai.usage.inputTokenDetails.cacheReadTokens': 64,
        'ai.usage.inputTokenDetails.cacheWriteTokens': 3,
        'ai.usage.outputTokens': 12,
        'ai.usage.outputTokenDetails.reasoningTokens': 5,
        'ai.usage.cachedInputTokens': 64,
        'gen_ai.response.finish_reasons': ['tool-calls'],
        'gen_ai.usage.input_tokens': 81,
      }),
      context,
    );

    expect(built(mapped)).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: 'gpt-4o-mini',
      responseModel: 'gpt-4o-mini-2024-07-18',
      responseId: 'chatcmpl-cc13e3731723c1be74eca2b2',
      parameters: {
        temperature: 0.2,
        maxTokens: 64,
        topP: 0.9,
        topK: 40,
        stopSequences: ['END'],
        seed: 42n,
        frequencyPenalty: 0.2,
        presencePenalty: 0.1,
        toolChoice: 'get_weather',
      },
      finishReasons: [FinishReason.TOOL_CALLS],
      usage: {
        inputTokens: 81,
        outputTokens: 12,
        cachedInputTokens: 64,
        cacheCreationInputTokens: 3,
        reasoningTokens: 5,
      },
      contentCaptured: true,
      content: {
        case: 'plainContent',
        value: {
          systemInstructions: [],
          inputMessages: [
            { role: Role.SYSTEM, parts: [text('You are a concise travel assistant.')] },
            {
              role: Role.USER,
              parts: [
                text('Weather here?'),
                {
                  kind: {
                    case: 'media',
                    value: {
                      modality: Modality.IMAGE,
                      mimeType: 'image/png',
                      location: { case: 'object', value: { key: 'blob-1' } },
                    },
                  },
                },
                {
                  kind: {
                    case: 'media',
                    value: {
                      modality: Modality.DOCUMENT,
                      mimeType: 'application/pdf',
                      location: { case: 'uri', value: 'https://x/plan.pdf' },
                    },
                  },
                },
              ],
            },
            {
              role: Role.ASSISTANT,
              parts: [
                { kind: { case: 'reasoning', value: { text: 'Need the city first.' } } },
                {
                  kind: {
                    case: 'toolCall',
                    value: { id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
                  },
                },
              ],
            },
            {
              role: Role.TOOL,
              parts: [
                {
                  kind: {
                    case: 'toolCallResponse',
                    value: { id: 'call_1', response: '{"temperature_c":12}' },
                  },
                },
              ],
            },
          ],
          outputMessages: [
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.TOOL_CALLS,
              parts: [
                { kind: { case: 'reasoning', value: { text: 'Oslo it is.' } } },
                text('Let me check.'),
                {
                  kind: {
                    case: 'toolCall',
                    value: { id: 'call_2', name: 'get_weather', arguments: '{"city":"Oslo"}' },
                  },
                },
              ],
            },
          ],
          toolDefinitions: [
            {
              type: 'function',
              name: 'get_weather',
              description: 'Current weather for a city.',
              parameters: { type: 'object', properties: { city: { type: 'string' } } },
            },
            { type: 'openai.web_search', name: 'web_search' },
          ],
        },
      },
      context: {
        conversationId: 'session-7',
        attributes: { sessionId: 'session-7', userTier: 'pro', beta: 'true' },
      },
    });
    expect(blobs).toEqual([
      { bytes: new Uint8Array(Buffer.from('iVBORw==', 'base64')), mimeType: 'image/png' },
    ]);
    expect(mapped.streaming).toBeUndefined();
  });

  it('maps v4 attribute names: promptTokens, maxTokens, args, result, image parts', () => {
    const { blobs, context } = blobStore();
    const mapped = vercelAi.map(
      source('ai.generateText.doGenerate', {
        ...base('ai.generateText.doGenerate'),
        'ai.settings.maxTokens': 100,
        'ai.prompt.messages': JSON.stringify([
          {
            role: 'user',
            content: [
              { type: 'image', image: 'https://x/cat.jpg' },
              { type: 'image', image: 'AAEC', mimeType: 'image/jpeg' },
            ],
          },
          {
            role: 'assistant',
            content: [{ type: 'tool-call', toolCallId: 'c', toolName: 'f', args: { a: 1 } }],
          },
          {
            role: 'tool',
            content: [{ type: 'tool-result', toolCallId: 'c', toolName: 'f', result: 'done' }],
          },
        ]),
        'ai.prompt.tools': [
          JSON.stringify({ type: 'function', name: 'f', parameters: { type: 'object' } }),
        ],
        'ai.response.finishReason': 'content-filter',
        'ai.response.toolCalls': JSON.stringify([
          { toolCallType: 'function', toolCallId: 'd', toolName: 'f', args: '{"a":2}' },
        ]),
        'ai.usage.promptTokens': 10,
        'ai.usage.completionTokens': 5,
      }),
      context,
    );
    expect(built(mapped)).toMatchObject({
      parameters: { maxTokens: 100 },
      finishReasons: [FinishReason.CONTENT_FILTER],
      usage: { inputTokens: 10, outputTokens: 5 },
      content: {
        value: {
          inputMessages: [
            {
              parts: [
                {
                  kind: {
                    case: 'media',
                    value: {
                      modality: Modality.IMAGE,
                      location: { case: 'uri', value: 'https://x/cat.jpg' },
                    },
                  },
                },
                {
                  kind: {
                    case: 'media',
                    value: {
                      modality: Modality.IMAGE,
                      mimeType: 'image/jpeg',
                      location: { case: 'object', value: { key: 'blob-1' } },
                    },
                  },
                },
              ],
            },
            { parts: [{ kind: { value: { id: 'c', name: 'f', arguments: '{"a":1}' } } }] },
            {
              parts: [{ kind: { case: 'toolCallResponse', value: { id: 'c', response: 'done' } } }],
            },
          ],
          outputMessages: [
            { parts: [{ kind: { case: 'toolCall', value: { id: 'd', arguments: '{"a":2}' } } }] },
          ],
          toolDefinitions: [{ name: 'f', parameters: { type: 'object' } }],
        },
      },
    });
    expect(blobs).toEqual([{ bytes: new Uint8Array([0, 1, 2]), mimeType: 'image/jpeg' }]);
  });

  it('maps v5 usage, without v6 token details, and provider-defined tools', () => {
    const mapped = vercelAi.map(
      source('ai.generateText.doGenerate', {
        ...base('ai.generateText.doGenerate'),
        'ai.prompt.tools': [
          JSON.stringify({
            type: 'provider-defined',
            id: 'anthropic.web_search_20250305',
            name: 'web_search',
            args: { maxUses: 3 },
          }),
        ],
        'ai.usage.inputTokens': 120,
        'ai.usage.outputTokens': 40,
        'ai.usage.totalTokens': 160,
        'ai.usage.reasoningTokens': 25,
        'ai.usage.cachedInputTokens': 100,
      }),
      blobStore().context,
    );
    expect(built(mapped)).toMatchObject({
      usage: { inputTokens: 120, outputTokens: 40, cachedInputTokens: 100, reasoningTokens: 25 },
      content: {
        value: { toolDefinitions: [{ type: 'anthropic.web_search_20250305', name: 'web_search' }] },
      },
    });
  });

  describe('streaming', () => {
    const stream = { ...base('ai.streamText.doStream'), 'ai.response.text': 'Oslo.' };

    it('takes the first chunk from ai.response.msToFirstChunk, after the span start', () => {
      const mapped = vercelAi.map(
        source('ai.streamText.doStream', { ...stream, 'ai.response.msToFirstChunk': 48.675127 }),
        blobStore().context,
      );
      expect(mapped.streaming).toEqual({ firstTokenUnixNano: start + 48_675_127n });
    });

    it('else from the ai.stream.firstChunk event, and streamObject names it ai.stream.*', () => {
      const firstChunk = { name: 'ai.stream.firstChunk', timeUnixNano: start + 7_000_000n };
      expect(
        vercelAi.map(source('ai.streamText.doStream', stream, [firstChunk]), blobStore().context)
          .streaming,
      ).toEqual({ firstTokenUnixNano: start + 7_000_000n });
      expect(
        vercelAi.map(
          source('ai.streamObject.doStream', {
            ...base('ai.streamObject.doStream'),
            'ai.stream.msToFirstChunk': 12,
          }),
          blobStore().context,
        ).streaming,
      ).toEqual({ firstTokenUnixNano: start + 12_000_000n });
    });

    it('marks a stream that never got its first chunk as streamed all the same', () => {
      expect(
        vercelAi.map(source('ai.streamText.doStream', stream), blobStore().context).streaming,
      ).toEqual({});
    });
  });

  it('maps generateObject calls: the object is the answer, the output JSON', () => {
    const mapped = vercelAi.map(
      source('ai.generateObject.doGenerate', {
        ...base('ai.generateObject.doGenerate'),
        'ai.prompt.messages': JSON.stringify([
          { role: 'user', content: [{ type: 'text', text: 'Capital of Norway as JSON.' }] },
        ]),
        'ai.response.finishReason': 'stop',
        'ai.response.object': '{"city":"Oslo"}',
        'ai.usage.promptTokens': 30,
        'ai.usage.completionTokens': 11,
      }),
      blobStore().context,
    );
    expect(built(mapped)).toMatchObject({
      parameters: { responseFormat: { type: ResponseFormatType.JSON_OBJECT } },
      usage: { inputTokens: 30, outputTokens: 11 },
      content: {
        value: {
          outputMessages: [{ finishReason: FinishReason.STOP, parts: [text('{"city":"Oslo"}')] }],
        },
      },
    });
  });

  it('maps embedding calls without content', () => {
    for (const operationId of ['ai.embed.doEmbed', 'ai.embedMany.doEmbed']) {
      const mapped = vercelAi.map(
        source(operationId, {
          ...base(operationId),
          'ai.model.provider': 'openai.embedding',
          'ai.model.id': 'text-embedding-3-small',
          'ai.values': [JSON.stringify('sunny day at the beach')],
          'ai.embeddings': ['[0.1,0.2]'],
          'ai.usage.tokens': 6,
        }),
        blobStore().context,
      );
      expect(built(mapped)).toMatchObject({
        operation: Operation.EMBEDDINGS,
        provider: 'openai',
        requestModel: 'text-embedding-3-small',
        usage: { inputTokens: 6 },
        contentCaptured: false,
        content: { case: undefined },
      });
    }
  });

  it('maps a call with recordInputs and recordOutputs off as content not captured', () => {
    const mapped = vercelAi.map(
      source('ai.generateText.doGenerate', {
        ...base('ai.generateText.doGenerate'),
        'ai.response.finishReason': 'stop',
        'ai.usage.inputTokens': 24,
      }),
      blobStore().context,
    );
    expect(built(mapped)).toMatchObject({
      contentCaptured: false,
      content: { case: undefined },
      finishReasons: [FinishReason.STOP],
      usage: { inputTokens: 24 },
    });
  });

  it('still maps a failed call: its prompt, no answer, no finish reason', () => {
    const failed = source(
      'ai.generateText.doGenerate',
      {
        ...base('ai.generateText.doGenerate'),
        'ai.model.id': 'fail-500',
        'ai.prompt.messages': JSON.stringify([
          { role: 'user', content: [{ type: 'text', text: 'This call fails.' }] },
        ]),
      },
      [
        {
          name: 'exception',
          timeUnixNano: start + 1n,
          attributes: { 'exception.type': 'AI_APICallError', 'exception.message': 'HTTP 500' },
        },
      ],
    );
    failed.span.status = create(otlpTrace.StatusSchema, {
      code: otlpTrace.Status_StatusCode.ERROR,
      message: 'HTTP 500',
    });
    expect(built(vercelAi.map(failed, blobStore().context))).toMatchObject({
      requestModel: 'fail-500',
      finishReasons: [],
      contentCaptured: true,
      content: {
        value: { inputMessages: [{ parts: [text('This call fails.')] }], outputMessages: [] },
      },
    });
  });

  it('names providers as semconv does', () => {
    const provider = (name: string) =>
      vercelAi.map(
        source('ai.generateText.doGenerate', {
          ...base('ai.generateText.doGenerate'),
          'ai.model.provider': name,
        }),
        blobStore().context,
      ).call.provider;
    expect(provider('openai.responses')).toBe('openai');
    expect(provider('anthropic.messages')).toBe('anthropic');
    expect(provider('google.vertex.chat')).toBe('gcp.vertex_ai');
    expect(provider('google.generative-ai')).toBe('gcp.gemini');
    expect(provider('amazon-bedrock')).toBe('aws.bedrock');
    expect(provider('azure.chat')).toBe('azure.ai.openai');
    expect(provider('mistral.chat')).toBe('mistral_ai');
    expect(provider('xai.chat')).toBe('x_ai');
    expect(provider('ollama.chat')).toBe('ollama');
    expect(provider('googlex.chat')).toBe('googlex');
  });

  describe('spans around calls', () => {
    it('takes generateText and streamText as the agent named by the function id', () => {
      expect(
        vercelAi.step?.(
          source('ai.generateText', {
            ...base('ai.generateText'),
            'ai.prompt': JSON.stringify({ prompt: 'Weather in Oslo?' }),
          }),
        ),
      ).toEqual({
        kind: StepKind.AGENT,
        name: 'travel-agent',
        conversationId: 'session-7',
        attributes: { sessionId: 'session-7', userTier: 'pro', beta: 'true' },
      });
      expect(vercelAi.step?.(source('ai.streamText', base('ai.streamText')))?.kind).toBe(
        StepKind.AGENT,
      );
    });

    it('takes the other SDK functions as named steps', () => {
      for (const operationId of ['ai.generateObject', 'ai.streamObject', 'ai.embedMany']) {
        expect(vercelAi.step?.(source(operationId, base(operationId)))).toMatchObject({
          kind: StepKind.TASK,
          name: 'travel-agent',
        });
      }
    });

    it('takes ai.toolCall as the tool execution of its tool call', () => {
      expect(
        vercelAi.step?.(
          source('ai.toolCall', {
            ...base('ai.toolCall'),
            'ai.toolCall.name': 'get_weather',
            'ai.toolCall.id': 'call_weather_oslo',
            'ai.toolCall.args': '{"city":"Oslo"}',
          }),
        ),
      ).toMatchObject({
        kind: StepKind.TOOL,
        name: 'get_weather',
        toolCallId: 'call_weather_oslo',
      });
    });

    it('names nothing without a function id', () => {
      const anonymous = base('ai.generateText');
      delete anonymous['ai.telemetry.functionId'];
      expect(vercelAi.step?.(source('ai.generateText', anonymous))).toBeUndefined();
    });
  });

  it('takes precedence over the semconv mappers for its calls, and only for them', () => {
    const first = (name: string, attributes: Record<string, Plain>) =>
      spanMappers.find((mapper) => mapper.recognises(source(name, attributes)));
    const doGenerate = {
      ...base('ai.generateText.doGenerate'),
      'gen_ai.system': 'openai.chat',
      'gen_ai.request.model': 'gpt-4o-mini',
    };
    expect(first('ai.generateText.doGenerate', doGenerate)).toBe(vercelAi);
    expect(first('ai.generateText', base('ai.generateText'))).toBeUndefined();
    expect(first('ai.toolCall', base('ai.toolCall'))).toBeUndefined();
  });
});
