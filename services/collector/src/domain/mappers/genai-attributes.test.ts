import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  FinishReason,
  LlmCallSchema,
  Modality,
  Operation,
  ResponseFormatType,
  Role,
  StepKind,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { span, type Plain } from '../../testing/otlp-requests.js';
import { blobStore, built, noBlobs, sourceSpanOf } from '../../testing/mapping.js';
import { genAiAttributes } from './genai-attributes.js';
import type { SourceSpan } from './mapper.js';

const start = 1_750_000_000_000_000_000n;

function source(attributes: Record<string, Plain>, name = 'chat gpt-4o'): SourceSpan {
  const otlp = span({ name, attributes, startNanos: start });
  return sourceSpanOf(otlp, 'gen_ai');
}

describe('OTel GenAI semconv ≥ 1.37 attributes', () => {
  it('maps a Vercel AI SDK 7 chat span: content, media by reference, time to first chunk', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const { blobs, context } = blobStore();
    const mapped = genAiAttributes.map(
      source({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.request.seed': 42,
        'gen_ai.output.type': 'json',
        'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: 'Be brief.' }]),
        'gen_ai.input.messages': JSON.stringify([
          {
            role: 'user',
            parts: [
              { type: 'text', content: 'What is on this picture?' },
              {
                type: 'blob',
                modality: 'image',
                mime_type: 'image/png',
                content: Buffer.from(png).toString('base64'),
              },
              { type: 'uri', modality: 'image', mime_type: 'image/jpeg', uri: 'https://x/y.jpg' },
            ],
          },
        ]),
        'gen_ai.tool.definitions': JSON.stringify([
          {
            type: 'function',
            name: 'get_weather',
            description: 'Current weather',
            inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
          },
        ]),
        'gen_ai.output.messages': JSON.stringify([
          {
            role: 'assistant',
            parts: [
              { type: 'reasoning', content: 'The user wants the weather.' },
              { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Oslo' } },
            ],
            finish_reason: 'tool_call',
          },
        ]),
        'gen_ai.response.finish_reasons': ['tool-calls'],
        'gen_ai.usage.input_tokens': 52,
        'gen_ai.usage.output_tokens': 17,
        'gen_ai.usage.cache_read.input_tokens': 12,
        'gen_ai.client.operation.time_to_first_chunk': 0.25,
      }),
      context,
    );

    expect(built(mapped)).toMatchObject({
      operation: Operation.CHAT,
      provider: 'openai',
      requestModel: 'gpt-4o-mini',
      parameters: { seed: 42n, responseFormat: { type: ResponseFormatType.JSON_OBJECT } },
      finishReasons: [FinishReason.TOOL_CALLS],
      usage: { inputTokens: 52, outputTokens: 17, cachedInputTokens: 12 },
      contentCaptured: true,
      content: {
        case: 'plainContent',
        value: {
          systemInstructions: [{ kind: { case: 'text', value: { text: 'Be brief.' } } }],
          inputMessages: [
            {
              role: Role.USER,
              parts: [
                { kind: { case: 'text', value: { text: 'What is on this picture?' } } },
                {
                  kind: {
                    case: 'media',
                    value: {
                      modality: Modality.IMAGE,
                      mimeType: 'image/png',
                      location: { case: 'object', value: { bucket: 'media', key: 'blob-1' } },
                    },
                  },
                },
                {
                  kind: {
                    case: 'media',
                    value: { location: { case: 'uri', value: 'https://x/y.jpg' } },
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
                { kind: { case: 'reasoning', value: { text: 'The user wants the weather.' } } },
                {
                  kind: {
                    case: 'toolCall',
                    value: { id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
                  },
                },
              ],
            },
          ],
          toolDefinitions: [
            {
              type: 'function',
              name: 'get_weather',
              parameters: { type: 'object', properties: { city: { type: 'string' } } },
            },
          ],
        },
      },
    });
    expect(blobs).toEqual([{ bytes: png, mimeType: 'image/png' }]);
    expect(mapped.streaming).toEqual({ firstTokenUnixNano: start + 250_000_000n });
  });

  it('stores base64 data: URIs as blobs, and ignores roles that only objects inherit', () => {
    const { blobs, context } = blobStore();
    const mapped = genAiAttributes.map(
      source({
        'gen_ai.operation.name': 'chat',
        'gen_ai.input.messages': JSON.stringify([
          {
            role: 'constructor',
            parts: [{ type: 'uri', modality: 'audio', uri: 'data:audio/wav;base64,AAEC' }],
          },
        ]),
      }),
      context,
    );
    expect(built(mapped).content).toMatchObject({
      case: 'plainContent',
      value: {
        inputMessages: [
          {
            role: Role.UNSPECIFIED,
            parts: [
              {
                kind: {
                  case: 'media',
                  value: {
                    modality: Modality.AUDIO,
                    mimeType: 'audio/wav',
                    location: { case: 'object', value: { key: 'blob-1' } },
                  },
                },
              },
            ],
          },
        ],
      },
    });
    expect(blobs).toEqual([{ bytes: new Uint8Array([0, 1, 2]), mimeType: 'audio/wav' }]);
  });

  it('says a call streamed from gen_ai.request.stream and the semconv time to first chunk', () => {
    const { context } = blobStore();
    const stream = (attributes: Record<string, Plain>) =>
      genAiAttributes.map(source({ 'gen_ai.operation.name': 'chat', ...attributes }), context)
        .streaming;
    expect(stream({ 'gen_ai.request.stream': true })).toEqual({});
    expect(stream({ 'gen_ai.response.time_to_first_chunk': 1.5 })).toEqual({
      firstTokenUnixNano: start + 1_500_000_000n,
    });
    expect(stream({ 'gen_ai.request.stream': false })).toBeUndefined();
    expect(stream({})).toBeUndefined();
  });

  it('maps a failed call without output: its status comes from the span, not the mapper', () => {
    const { context } = blobStore();
    const mapped = genAiAttributes.map(
      source({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'fail-500',
        'gen_ai.input.messages': JSON.stringify([
          { role: 'user', parts: [{ type: 'text', content: 'This call fails.' }] },
        ]),
        'error.type': '500',
      }),
      context,
    );
    expect(built(mapped)).toMatchObject({
      requestModel: 'fail-500',
      finishReasons: [],
      contentCaptured: true,
      content: { value: { inputMessages: [{ role: Role.USER }], outputMessages: [] } },
    });
  });

  it('maps Responses API items as the OTel JS instrumentation writes them', () => {
    const weather = '{"temperature_c":12}';
    const mapped = genAiAttributes.map(
      source({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.input.messages': JSON.stringify([
          { role: 'user', parts: [{ type: 'text', content: 'Weather in Oslo?' }] },
          { role: 'assistant', parts: [{ type: 'reasoning', text: 'Needs the tool.' }] },
          {
            role: 'assistant',
            parts: [
              {
                type: 'tool_call',
                id: 'fc_1',
                call_id: 'call_1',
                name: 'get_weather',
                arguments: '{"city":"Oslo"}',
              },
            ],
          },
          {
            role: 'user',
            parts: [{ type: 'tool_call_response', response: weather, call_id: 'call_1' }],
          },
        ]),
        'gen_ai.output.messages': JSON.stringify([
          {
            role: 'assistant',
            parts: [
              { type: 'refusal', refusal: 'I cannot share that.' },
              { type: 'text', content: '12 °C.' },
            ],
            finish_reason: 'stop',
          },
        ]),
      }),
      noBlobs,
    );
    expect(mapped.awaitsEvents).toBeUndefined();
    expect(built(mapped).content.value).toMatchObject({
      inputMessages: [
        { role: Role.USER },
        {
          role: Role.ASSISTANT,
          parts: [{ kind: { case: 'reasoning', value: { text: 'Needs the tool.' } } }],
        },
        {
          role: Role.ASSISTANT,
          parts: [
            {
              kind: {
                case: 'toolCall',
                value: { id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
              },
            },
          ],
        },
        // The result of a call answers it: the tool's, though the instrumentation says user.
        {
          role: Role.TOOL,
          parts: [
            { kind: { case: 'toolCallResponse', value: { id: 'call_1', response: weather } } },
          ],
        },
      ],
      outputMessages: [
        {
          parts: [
            { kind: { case: 'refusal', value: { text: 'I cannot share that.' } } },
            { kind: { case: 'text', value: { text: '12 °C.' } } },
          ],
        },
      ],
    });
  });

  it('waits for the events of a span without messages; instructions may be bare text', () => {
    const call = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.system_instructions': 'You are a concise travel assistant.',
    };
    const mapped = genAiAttributes.map(source(call), noBlobs);
    expect(mapped.awaitsEvents).toBe(true);
    expect(built(mapped).content.value).toMatchObject({
      systemInstructions: [
        { kind: { case: 'text', value: { text: 'You are a concise travel assistant.' } } },
      ],
      inputMessages: [],
    });
    const withMessages = { ...call, 'gen_ai.output.messages': '[]' };
    expect(genAiAttributes.map(source(withMessages), noBlobs).awaitsEvents).toBeUndefined();
    const embeddings = { 'gen_ai.operation.name': 'embeddings', 'gen_ai.request.model': 'e3' };
    expect(genAiAttributes.map(source(embeddings), noBlobs).awaitsEvents).toBeUndefined();
  });

  it('drops parts whose content was not captured: a message of them records nothing', () => {
    const mapped = genAiAttributes.map(
      source({
        'gen_ai.operation.name': 'chat',
        'gen_ai.input.messages': JSON.stringify([
          { role: 'user', parts: [{ type: 'text' }, { type: 'text', content: null }] },
          { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'get_weather' }] },
          { role: 'user', parts: [{ type: 'tool_call_response', call_id: 'call_1' }] },
        ]),
        'gen_ai.output.messages': JSON.stringify([
          { role: 'assistant', parts: [{ type: 'reasoning' }, { type: 'text', content: '' }] },
        ]),
      }),
      noBlobs,
    );
    expect(built(mapped).content.value).toMatchObject({
      inputMessages: [
        { role: Role.USER, parts: [] },
        { role: Role.ASSISTANT, parts: [] },
        { role: Role.USER, parts: [] },
      ],
      // Empty text is what the model said.
      outputMessages: [{ parts: [{ kind: { case: 'text', value: { text: '' } } }] }],
    });
  });

  it('cuts structured data nested deeper than a message can be decoded, instead of failing', () => {
    const nested = (depth: number) => `${'[{"a":'.repeat(depth)}"x"${'}]'.repeat(depth)}`;
    const mapped = genAiAttributes.map(
      source({
        'gen_ai.operation.name': 'chat',
        'gen_ai.input.messages': JSON.stringify([
          {
            role: 'assistant',
            parts: [{ type: 'tool_call', id: 'call_1', name: 'f', arguments: { a: 1 } }],
          },
        ]).replace('{"a":1}', nested(5_000)),
        'gen_ai.system_instructions': `[{"type":"citation","a":${nested(3_000)}}]`,
      }),
      noBlobs,
    );
    const call = built(mapped);
    expect(fromBinary(LlmCallSchema, toBinary(LlmCallSchema, call))).toEqual(call);
    const content = call.content.case === 'plainContent' ? call.content.value : undefined;
    const [citation] = content?.systemInstructions ?? [];
    expect(citation?.kind.case).toBe('other');
    expect(JSON.stringify(citation?.kind.value)).toContain('null');
    const [message] = content?.inputMessages ?? [];
    const [toolCall] = message?.parts ?? [];
    expect(toolCall?.kind.case === 'toolCall' && toolCall.kind.value.arguments).toMatch(
      /^\[\{"a":\[\{"a":.*null.*\}\]$/,
    );
  });

  describe('spans around calls', () => {
    const step = (attributes: Record<string, Plain>, name?: string) =>
      genAiAttributes.step?.(source(attributes, name));

    it('takes invoke_agent and create_agent spans as agents', () => {
      const agent = {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.agent.name': 'travel-agent',
        'gen_ai.agent.id': 'agent-travel-1',
        'gen_ai.conversation.id': 'conversation-chat',
      };
      expect(step(agent)).toEqual({
        kind: StepKind.AGENT,
        name: 'travel-agent',
        agentId: 'agent-travel-1',
        conversationId: 'conversation-chat',
        toolCallId: '',
      });
      expect(step({ ...agent, 'gen_ai.operation.name': 'create_agent' })?.kind).toBe(
        StepKind.AGENT,
      );
    });

    it('takes execute_tool spans as tools, with the tool call they execute', () => {
      expect(
        step({
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': 'get_weather',
          'gen_ai.tool.call.id': 'call_weather_oslo',
        }),
      ).toMatchObject({
        kind: StepKind.TOOL,
        name: 'get_weather',
        toolCallId: 'call_weather_oslo',
      });
    });

    it('takes invoke_workflow spans as workflows, named by attribute or span name', () => {
      expect(
        step({ 'gen_ai.operation.name': 'invoke_workflow', 'gen_ai.workflow.name': 'triage' }),
      ).toMatchObject({ kind: StepKind.WORKFLOW, name: 'triage' });
      expect(
        step({ 'gen_ai.operation.name': 'invoke_workflow' }, 'invoke_workflow refunds'),
      ).toMatchObject({ kind: StepKind.WORKFLOW, name: 'refunds' });
    });

    it('leaves calls and the AI SDK 7 `agent_step` spans (numbered, unnamed) alone', () => {
      expect(step({ 'gen_ai.operation.name': 'agent_step' }, 'step 1')).toBeUndefined();
      expect(step({ 'gen_ai.operation.name': 'chat' })).toBeUndefined();
      expect(step({ 'gen_ai.operation.name': 'constructor' })).toBeUndefined();
    });
  });
});
