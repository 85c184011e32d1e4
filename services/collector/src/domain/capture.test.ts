import { createHash } from 'node:crypto';
import {
  CallStatusCode,
  FinishReason,
  Modality,
  Operation,
  Role,
  SourceFormat,
  otlpTrace,
  type LlmCall,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { chatSpan, exportRequest, span, type ExportInit } from '../testing/otlp-requests.js';
import { captureCalls } from './capture.js';

const options = {
  tenantId: 'acme',
  producer: 'collector',
  traceParent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  newEventId: () => 'event-1',
};

function captureOne(s: otlpTrace.Span, init?: ExportInit): LlmCall {
  const { events } = captureCalls(exportRequest([s], init), options);
  expect(events).toHaveLength(1);
  const call = events[0]?.call;
  if (call === undefined) throw new Error('no call');
  return call;
}

const traceId = Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex');
const spanId = Buffer.from('b7ad6b7169203331', 'hex');
const parentSpanId = Buffer.from('00f067aa0ba902b7', 'hex');

describe('captureCalls', () => {
  it('fills the envelope and the format-independent fields', () => {
    const { events } = captureCalls(
      exportRequest([chatSpan({ traceId, spanId, parentSpanId })]),
      options,
    );
    const event = events[0];
    expect(event?.meta).toMatchObject({
      eventId: 'event-1',
      tenantId: 'acme',
      producer: 'collector',
      traceParent: options.traceParent,
      occurredAt: { seconds: 1_750_000_001n, nanos: 500_000_000 },
    });
    expect(event?.call).toMatchObject({
      tenantId: 'acme',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      callId: createHash('sha256')
        .update('acme:0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331')
        .digest('hex')
        .slice(0, 32),
      context: {
        serviceName: 'support-agent',
        parentSpanId: '00f067aa0ba902b7',
        ancestorSpanIds: ['00f067aa0ba902b7'],
      },
      timing: {
        startTime: { seconds: 1_750_000_000n, nanos: 0 },
        latency: { seconds: 1n, nanos: 500_000_000 },
      },
      status: { code: CallStatusCode.OK, errorType: '', errorMessage: '' },
      source: {
        format: SourceFormat.OTEL_GENAI_ATTRIBUTES,
        version: '1.37.0',
        scopeName: '@opentelemetry/instrumentation-openai',
        scopeVersion: '0.5.0',
      },
    });
  });

  it('gives the same span the same call id, and another tenant another one', () => {
    const s = chatSpan();
    const first = captureCalls(exportRequest([s]), options).events[0]?.call?.callId;
    const again = captureCalls(exportRequest([s]), options).events[0]?.call?.callId;
    const other = captureCalls(exportRequest([s]), { ...options, tenantId: 'globex' }).events[0]
      ?.call?.callId;
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(again).toBe(first);
    expect(other).not.toBe(first);
  });

  it('counts spans that are not LLM calls and rejects spans without ids', () => {
    const capture = captureCalls(
      exportRequest([
        chatSpan(),
        span({ name: 'GET /orders', attributes: { 'http.request.method': 'GET' } }),
        span({ name: 'invoke_agent', attributes: { 'gen_ai.operation.name': 'invoke_agent' } }),
        span({ name: 'execute_tool', attributes: { 'gen_ai.operation.name': 'execute_tool' } }),
        chatSpan({ traceId: new Uint8Array(), spanId: new Uint8Array() }),
      ]),
      options,
    );
    expect(capture.events).toHaveLength(1);
    expect(capture.ignored).toBe(3);
    expect(capture.rejected).toBe(1);
  });

  it("captures the gateway's LLM answers but not its small models' ones", () => {
    const routed = (route: string) => chatSpan({ attributes: { 'understudy.route': route } });
    const capture = captureCalls(
      exportRequest(['llm', 'llm-fallback', 'slm', 'shadow'].map(routed), {
        serviceName: 'inference-gateway',
      }),
      options,
    );
    expect(capture.events).toHaveLength(2);
    expect(capture.ignored).toBe(2);
  });

  it('takes the scope version as the source version without a semconv schema URL', () => {
    expect(captureOne(chatSpan(), { schemaUrl: '', scopeVersion: '2.1.0' }).source?.version).toBe(
      '2.1.0',
    );
  });
});

describe('the OTel GenAI attribute mapper (semconv ≥ 1.37)', () => {
  it('maps model, provider, response, parameters, finish reasons and usage', () => {
    const call = captureOne(
      chatSpan({
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'OpenAI',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.response.model': 'gpt-4o-2024-08-06',
          'gen_ai.response.id': 'chatcmpl-123',
          'gen_ai.response.finish_reasons': ['stop', 'length', 'weird'],
          'gen_ai.request.temperature': 0.2,
          'gen_ai.request.max_tokens': 256,
          'gen_ai.request.top_p': 0.9,
          'gen_ai.request.seed': 42,
          'gen_ai.request.stop_sequences': ['\n\n'],
          'gen_ai.request.choice.count': 2,
          'gen_ai.usage.input_tokens': 120,
          'gen_ai.usage.output_tokens': 30,
          'gen_ai.usage.cache_read.input_tokens': 100,
          'gen_ai.agent.id': 'agent-7',
          'gen_ai.agent.name': 'Support',
          'gen_ai.conversation.id': 'conv-9',
        },
      }),
    );
    expect(call).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: 'gpt-4o',
      responseModel: 'gpt-4o-2024-08-06',
      responseId: 'chatcmpl-123',
      finishReasons: [FinishReason.STOP, FinishReason.LENGTH, FinishReason.OTHER],
      parameters: {
        temperature: 0.2,
        maxTokens: 256,
        topP: 0.9,
        seed: 42n,
        stopSequences: ['\n\n'],
        choiceCount: 2,
      },
      usage: { inputTokens: 120, outputTokens: 30, cachedInputTokens: 100 },
      context: { agentId: 'agent-7', agentName: 'Support', conversationId: 'conv-9' },
    });
    // Absent parameters and counts stay unset rather than zero.
    expect(call.parameters?.topK).toBeUndefined();
    expect(call.parameters?.frequencyPenalty).toBeUndefined();
    expect(call.usage?.reasoningTokens).toBeUndefined();
  });

  it('maps each operation that is a model call, and the older gen_ai.system provider', () => {
    const operation = (name: string) =>
      captureOne(chatSpan({ attributes: { 'gen_ai.operation.name': name } })).operation;
    expect(operation('text_completion')).toBe(Operation.TEXT_COMPLETION);
    expect(operation('generate_content')).toBe(Operation.GENERATE_CONTENT);
    expect(operation('embeddings')).toBe(Operation.EMBEDDINGS);
    const legacy = span({
      attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'anthropic' },
    });
    expect(captureOne(legacy).provider).toBe('anthropic');
  });

  it('maps a tool-calling conversation given as JSON strings', () => {
    const call = captureOne(
      chatSpan({
        attributes: {
          'gen_ai.system_instructions': JSON.stringify([
            { type: 'text', content: 'You are a weather bot.' },
          ]),
          'gen_ai.input.messages': JSON.stringify([
            { role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] },
            {
              role: 'assistant',
              parts: [
                {
                  type: 'tool_call',
                  id: 'call_1',
                  name: 'get_weather',
                  arguments: { city: 'Paris' },
                },
              ],
            },
            {
              role: 'tool',
              parts: [{ type: 'tool_call_response', id: 'call_1', response: { temp_c: 21 } }],
            },
          ]),
          'gen_ai.output.messages': JSON.stringify([
            {
              role: 'assistant',
              parts: [
                { type: 'reasoning', content: 'The tool answered.' },
                { type: 'text', content: 'It is 21 °C.' },
              ],
              finish_reason: 'stop',
            },
          ]),
          'gen_ai.tool.definitions': JSON.stringify([
            {
              type: 'function',
              name: 'get_weather',
              description: 'Current weather',
              parameters: { type: 'object', properties: { city: { type: 'string' } } },
            },
          ]),
        },
      }),
    );
    expect(call.contentCaptured).toBe(true);
    expect(call.content.case).toBe('plainContent');
    const content = call.content.value;
    expect(content).toMatchObject({
      systemInstructions: [{ kind: { case: 'text', value: { text: 'You are a weather bot.' } } }],
      inputMessages: [
        {
          role: Role.USER,
          parts: [{ kind: { case: 'text', value: { text: 'Weather in Paris?' } } }],
        },
        {
          role: Role.ASSISTANT,
          parts: [
            {
              kind: {
                case: 'toolCall',
                value: { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
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
                value: { id: 'call_1', response: '{"temp_c":21}' },
              },
            },
          ],
        },
      ],
      outputMessages: [
        {
          role: Role.ASSISTANT,
          finishReason: FinishReason.STOP,
          parts: [
            { kind: { case: 'reasoning', value: { text: 'The tool answered.' } } },
            { kind: { case: 'text', value: { text: 'It is 21 °C.' } } },
          ],
        },
      ],
      toolDefinitions: [
        {
          type: 'function',
          name: 'get_weather',
          description: 'Current weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
    });
  });

  it('reads the same content from structured attribute values', () => {
    const call = captureOne(
      chatSpan({
        attributes: {
          'gen_ai.input.messages': [
            {
              role: 'user',
              name: 'ada',
              parts: [
                { type: 'text', content: 'Describe this' },
                { type: 'uri', modality: 'image', mime_type: 'image/png', uri: 'https://x/a.png' },
                { type: 'file', modality: 'document', file_id: 'file-1' },
                { type: 'blob', modality: 'audio', mime_type: 'audio/wav', content: 'UklGRg==' },
                { type: 'video_frame', index: 3 },
              ],
            },
          ],
          'gen_ai.output.messages': [
            {
              role: 'assistant',
              parts: [{ type: 'tool_call', id: 'c2', name: 'lookup', arguments: '{"q":1' }],
              finish_reason: 'tool_calls',
            },
          ],
        },
      }),
    );
    const content = call.content.case === 'plainContent' ? call.content.value : undefined;
    const [message] = content?.inputMessages ?? [];
    expect(message?.name).toBe('ada');
    expect(message).toMatchObject({
      parts: [
        { kind: { case: 'text', value: { text: 'Describe this' } } },
        {
          kind: {
            case: 'media',
            value: {
              modality: Modality.IMAGE,
              mimeType: 'image/png',
              location: { case: 'uri', value: 'https://x/a.png' },
            },
          },
        },
        {
          kind: {
            case: 'media',
            value: { modality: Modality.DOCUMENT, location: { case: 'fileId', value: 'file-1' } },
          },
        },
        // The blob's bytes are not forwarded inline.
        {
          kind: {
            case: 'media',
            value: {
              modality: Modality.AUDIO,
              mimeType: 'audio/wav',
              location: { case: undefined },
            },
          },
        },
        { kind: { case: 'other', value: { type: 'video_frame', content: { index: 3 } } } },
      ],
    });
    expect(message?.parts).toHaveLength(5);
    // Invalid JSON arguments are kept verbatim: training needs what the model produced.
    expect(content?.outputMessages[0]).toMatchObject({
      finishReason: FinishReason.TOOL_CALLS,
      parts: [
        { kind: { case: 'toolCall', value: { id: 'c2', name: 'lookup', arguments: '{"q":1' } } },
      ],
    });
  });

  it('records a call without content as such', () => {
    const call = captureOne(
      span({
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': 10,
        },
      }),
    );
    expect(call.contentCaptured).toBe(false);
    expect(call.content.case).toBeUndefined();
    expect(call.usage?.inputTokens).toBe(10);
  });

  it('keeps the parts that parse when one content attribute is broken JSON', () => {
    const call = captureOne(chatSpan({ attributes: { 'gen_ai.input.messages': '[{"role":' } }));
    expect(call.contentCaptured).toBe(true);
    const content = call.content.case === 'plainContent' ? call.content.value : undefined;
    expect(content?.inputMessages).toEqual([]);
    expect(content?.outputMessages).toHaveLength(1);
  });

  it('marks failed calls with error.type and the span status message', () => {
    const call = captureOne(
      chatSpan({
        attributes: { 'error.type': '429' },
        status: { code: otlpTrace.Status_StatusCode.ERROR, message: 'rate limited' },
      }),
    );
    expect(call.status).toMatchObject({
      code: CallStatusCode.ERROR,
      errorType: '429',
      errorMessage: 'rate limited',
    });
    const statusOnly = captureOne(
      chatSpan({ status: { code: otlpTrace.Status_StatusCode.ERROR, message: 'boom' } }),
    );
    expect(statusOnly.status).toMatchObject({ code: CallStatusCode.ERROR, errorType: '' });
  });
});
