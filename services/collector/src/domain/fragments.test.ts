import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import {
  CallStatusCode,
  ContentEventKind,
  FinishReason,
  Modality,
  Operation,
  Role,
  SourceFormat,
  StepKind,
  otlpLogsService,
  otlpTrace,
  type CaptureFragment,
  type LlmCall,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import {
  chatSpan,
  exportRequest,
  keyValues,
  span,
  type ExportInit,
} from '../testing/otlp-requests.js';
import {
  logFragments,
  traceFragments,
  type ContentGuard,
  type FragmentOptions,
} from './fragments.js';
import { spanMappers, type SpanMapper } from './mappers/index.js';

/** Records what the guard was shown; redaction and encryption have their own tests. */
const guarded: string[] = [];
const guard: ContentGuard = {
  call: (call) => guarded.push(`call ${call.spanId}`),
  step: (_step, tenantId) => guarded.push(`step ${tenantId}`),
  event: (_event, tenantId, callId) => guarded.push(`event ${tenantId} ${callId}`),
};

const options: FragmentOptions = {
  tenantId: 'acme',
  producer: 'collector',
  mapContext: {
    blob: (bytes, mimeType) => ({
      bucket: 'understudy',
      key: `blobs/acme/${String(bytes.byteLength)}`,
      mediaType: mimeType,
    }),
  },
  guard,
};

const calls = (fragments: readonly CaptureFragment[]) =>
  fragments.flatMap((fragment) =>
    fragment.kind.case === 'call' && fragment.kind.value.call ? [fragment.kind.value.call] : [],
  );

function captureOne(s: otlpTrace.Span, init?: ExportInit): LlmCall {
  const found = calls(traceFragments(exportRequest([s], init), options).fragments);
  expect(found).toHaveLength(1);
  const call = found[0];
  if (call === undefined) throw new Error('no call');
  return call;
}

const traceId = Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex');
const spanId = Buffer.from('b7ad6b7169203331', 'hex');
const parentSpanId = Buffer.from('00f067aa0ba902b7', 'hex');

describe('traceFragments', () => {
  it('fills the envelope and the format-independent fields', () => {
    const { fragments } = traceFragments(
      exportRequest([chatSpan({ traceId, spanId, parentSpanId })]),
      options,
    );
    const fragment = fragments[0];
    expect(fragment).toMatchObject({
      meta: {
        tenantId: 'acme',
        producer: 'collector',
        occurredAt: { seconds: 1_750_000_001n, nanos: 500_000_000 },
      },
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      parentSpanId: '00f067aa0ba902b7',
      kind: { case: 'call', value: { awaitsEvents: false } },
    });
    expect(calls(fragments)[0]).toMatchObject({
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
        // Ancestors are the joiner's to find.
        ancestorSpanIds: [],
      },
      timing: {
        startTime: { seconds: 1_750_000_000n, nanos: 0 },
        latency: { seconds: 1n, nanos: 500_000_000 },
        streaming: false,
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

  it('shows every call and step to the guard before it leaves', () => {
    guarded.length = 0;
    traceFragments(exportRequest([chatSpan({ spanId }), span({ name: 'GET /orders' })]), options);
    expect(guarded).toEqual(['call b7ad6b7169203331', 'step acme']);
  });

  it('gives the same span the same call id, and another tenant another one', () => {
    const s = chatSpan();
    const callIdOf = (tenantId: string) =>
      calls(traceFragments(exportRequest([s]), { ...options, tenantId }).fragments)[0]?.callId;
    const first = callIdOf('acme');
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(callIdOf('acme')).toBe(first);
    expect(callIdOf('globex')).not.toBe(first);
  });

  it('keeps every other span as a step or a bare link, and rejects spans without ids', () => {
    const { fragments, ignored, rejected, rejectedMessage } = traceFragments(
      exportRequest([
        chatSpan(),
        span({ name: 'GET /orders', attributes: { 'http.request.method': 'GET' } }),
        chatSpan({ traceId: new Uint8Array(), spanId: new Uint8Array() }),
      ]),
      options,
    );
    expect(fragments.map((fragment) => fragment.kind.case)).toEqual(['call', 'step']);
    expect(fragments[1]?.kind.value).toMatchObject({ kind: StepKind.UNSPECIFIED, name: '' });
    expect(ignored).toBe(0);
    expect(rejected).toBe(1);
    expect(rejectedMessage).toBe('1 spans without a valid trace or span id');
  });

  it('rejects a span its mapper throws on, and keeps the rest of the export', () => {
    const broken: SpanMapper = {
      format: SourceFormat.OTEL_GENAI_ATTRIBUTES,
      recognises: (source) => source.span.name === 'broken',
      map: () => {
        throw new RangeError('a mapper bug');
      },
    };
    const { fragments, rejected, rejectedMessage } = traceFragments(
      exportRequest([chatSpan({ name: 'broken' }), chatSpan()]),
      { ...options, spanMappers: [broken, ...spanMappers] },
    );
    expect(calls(fragments)).toHaveLength(1);
    expect(rejected).toBe(1);
    expect(rejectedMessage).toBe('1 spans that could not be mapped');
  });

  it("captures the gateway's LLM answers but not its small models' ones", () => {
    const routed = (route: string) => chatSpan({ attributes: { 'understudy.route': route } });
    const capture = traceFragments(
      exportRequest(['llm', 'llm-fallback', 'slm', 'shadow'].map(routed), {
        serviceName: 'inference-gateway',
      }),
      options,
    );
    expect(calls(capture.fragments)).toHaveLength(2);
    expect(capture.ignored).toBe(2);
  });

  it('takes the scope version as the source version without a semconv schema URL', () => {
    expect(captureOne(chatSpan(), { schemaUrl: '', scopeVersion: '2.1.0' }).source?.version).toBe(
      '2.1.0',
    );
  });
});

describe('logFragments', () => {
  const record = (init: { eventName?: string; body?: string; traceId?: Uint8Array }) => ({
    timeUnixNano: 1_750_000_000_000_000_000n,
    eventName: init.eventName ?? '',
    traceId: init.traceId ?? traceId,
    spanId,
    body: { value: { case: 'stringValue' as const, value: init.body ?? '' } },
    attributes: keyValues({ 'gen_ai.system': 'openai' }),
  });
  const request = (records: ReturnType<typeof record>[]) =>
    create(otlpLogsService.ExportLogsServiceRequestSchema, {
      resourceLogs: [{ scopeLogs: [{ logRecords: records }] }],
    });
  const userMessage = {
    format: SourceFormat.OTEL_GENAI_EVENTS,
    recognises: (source: { eventName: string }) => source.eventName === 'gen_ai.user.message',
    map: () => ({
      content: {
        case: 'plainContent' as const,
        value: { inputMessages: [{ role: Role.USER, parts: [] }] },
      },
    }),
  };

  it('binds each GenAI event to its call, ignores other logs, rejects events without a span', () => {
    guarded.length = 0;
    const { fragments, ignored, rejected } = logFragments(
      request([
        record({ eventName: 'gen_ai.user.message' }),
        record({ body: 'GET /health 200' }),
        record({ eventName: 'gen_ai.user.message', traceId: new Uint8Array() }),
      ]),
      { ...options, logMappers: [userMessage] },
    );
    expect([fragments.length, ignored, rejected]).toEqual([1, 1, 1]);
    const callId = createHash('sha256')
      .update('acme:0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331')
      .digest('hex')
      .slice(0, 32);
    expect(guarded).toEqual([`event acme ${callId}`]);
    expect(fragments[0]).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      kind: { case: 'event', value: { sequence: 0, kind: ContentEventKind.INPUT_MESSAGE } },
    });
  });

  it('rejects an event its mapper throws on, and keeps the rest of the export', () => {
    const { fragments, rejected, rejectedMessage } = logFragments(
      request([
        record({ eventName: 'gen_ai.user.message', body: 'throw' }),
        record({ eventName: 'gen_ai.user.message' }),
        record({ eventName: 'gen_ai.user.message', traceId: new Uint8Array() }),
      ]),
      {
        ...options,
        logMappers: [
          {
            ...userMessage,
            map: (source) => {
              if (source.record.body?.value.value === 'throw') throw new TypeError('a mapper bug');
              return userMessage.map();
            },
          },
        ],
      },
    );
    expect([fragments.length, rejected]).toEqual([1, 2]);
    expect(rejectedMessage).toBe(
      '1 GenAI events without a valid trace or span id to join; 1 GenAI events that could not be mapped',
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
        // The blob's bytes go to the object store; the part keeps a reference.
        {
          kind: {
            case: 'media',
            value: {
              modality: Modality.AUDIO,
              mimeType: 'audio/wav',
              location: { case: 'object', value: { key: 'blobs/acme/4', mediaType: 'audio/wav' } },
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
