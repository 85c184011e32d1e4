import { create } from '@bufbuild/protobuf';
import {
  FinishReason,
  Modality,
  Operation,
  ResponseFormatType,
  Role,
  StepKind,
  UsageSchema,
  otlpTrace,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { keyValues, span, type Plain } from '../../testing/otlp-requests.js';
import { blobStore, built, noBlobs, sourceSpanOf } from '../../testing/mapping.js';
import { genAiAttributes } from './genai-attributes.js';
import type { SourceSpan } from './mapper.js';
import { openInference } from './openinference.js';

const start = 1_750_000_000_000_000_000n;

interface SourceInit {
  readonly name?: string;
  readonly parent?: boolean;
  readonly events?: { name: string; timeUnixNano: bigint; attributes?: Record<string, Plain> }[];
  readonly status?: { code: otlpTrace.Status_StatusCode; message?: string };
}

function source(attributes: Record<string, Plain>, init: SourceInit = {}): SourceSpan {
  const otlp = span({
    name: init.name ?? 'OpenAI Chat Completions',
    attributes,
    startNanos: start,
    parentSpanId: init.parent === false ? new Uint8Array() : new Uint8Array(8).fill(7),
    ...(init.status && { status: init.status }),
  });
  for (const event of init.events ?? []) {
    otlp.events.push(
      create(otlpTrace.Span_EventSchema, {
        name: event.name,
        timeUnixNano: event.timeUnixNano,
        attributes: keyValues(event.attributes ?? {}),
      }),
    );
  }
  return sourceSpanOf(otlp, '@arizeai/openinference-instrumentation-openai', '4.2.7');
}

const mapped = (attributes: Record<string, Plain>, init?: SourceInit) =>
  built(openInference.map(source(attributes, init), noBlobs));

const textPart = (text: string) => ({ kind: { case: 'text', value: { text } } });
const toolCallPart = (id: string, name: string, args: string) => ({
  kind: { case: 'toolCall', value: { id, name, arguments: args } },
});
const message = (index: number, side = 'input') => `llm.${side}_messages.${index}.message`;
const weatherSchema = {
  type: 'object',
  properties: { city: { type: 'string' } },
  required: ['city'],
};

describe('OpenInference', () => {
  it('maps a chat call: parameters, multi-part content, tool calls and results, usage, context', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const { blobs, context } = blobStore();
    const call = built(
      openInference.map(
        source({
          'openinference.span.kind': 'LLM',
          'llm.provider': 'aws',
          'llm.system': 'anthropic',
          'llm.model_name': 'claude-sonnet-4-20250514',
          'llm.invocation_parameters': JSON.stringify({
            model: 'claude-sonnet-4',
            temperature: 0.3,
            max_tokens: 512,
            top_p: 0.8,
            top_k: 40,
            stop_sequences: ['END'],
            seed: 7,
            frequency_penalty: 0.1,
            presence_penalty: 0.2,
            n: 1,
            tool_choice: { type: 'tool', name: 'get_weather' },
            response_format: { type: 'json_object' },
            logit_bias: { '50256': -100 },
            messages: [{ role: 'user', content: 'kept out of other' }],
            user: 'alice@example.com',
          }),
          [`${message(0)}.role`]: 'system',
          [`${message(0)}.content`]: 'Be brief.',
          [`${message(1)}.role`]: 'user',
          [`${message(1)}.name`]: 'alice',
          [`${message(1)}.contents.0.message_content.type`]: 'text',
          [`${message(1)}.contents.0.message_content.text`]: 'What is on these?',
          [`${message(1)}.contents.1.message_content.type`]: 'image',
          [`${message(1)}.contents.1.message_content.image.image.url`]: 'https://example.com/a.jpg',
          [`${message(1)}.contents.2.message_content.type`]: 'image',
          [`${message(1)}.contents.2.message_content.image.image.url`]: `data:image/png;base64,${Buffer.from(png).toString('base64')}`,
          [`${message(1)}.contents.3.message_content.type`]: 'audio',
          [`${message(1)}.contents.3.message_content.audio.audio.url`]: 'https://example.com/q.wav',
          [`${message(1)}.contents.3.message_content.audio.audio.mime_type`]: 'audio/wav',
          [`${message(2)}.role`]: 'assistant',
          [`${message(2)}.tool_calls.0.tool_call.id`]: 'call_1',
          [`${message(2)}.tool_calls.0.tool_call.function.name`]: 'get_weather',
          [`${message(2)}.tool_calls.0.tool_call.function.arguments`]: '{"city":"Oslo"}',
          [`${message(3)}.role`]: 'tool',
          [`${message(3)}.name`]: 'get_weather',
          [`${message(3)}.tool_call_id`]: 'call_1',
          [`${message(3)}.content`]: '{"temperature_c":12}',
          [`${message(0, 'output')}.role`]: 'assistant',
          [`${message(0, 'output')}.content`]: 'Two cats.',
          'llm.tools.0.tool.json_schema': JSON.stringify({
            name: 'get_weather',
            description: 'Weather for a city.',
            input_schema: weatherSchema,
          }),
          'llm.finish_reason': 'end_turn',
          'llm.token_count.prompt': 120,
          'llm.token_count.completion': 30,
          'llm.token_count.total': 150,
          'llm.token_count.prompt_details.cache_read': 64,
          'llm.token_count.prompt_details.cache_write': 16,
          'llm.token_count.completion_details.reasoning': 10,
          'output.mime_type': 'application/json',
          'output.value': JSON.stringify({ id: 'msg_01', type: 'message' }),
          'session.id': 'conversation-9',
          'user.id': 'user-7',
          'tag.tags': ['travel', 'beta'],
          metadata: JSON.stringify({ tier: 'pro', region: 'eu', retries: 2 }),
          'agent.name': 'travel-agent',
        }),
        context,
      ),
    );
    expect(call).toMatchObject({
      operation: Operation.CHAT,
      provider: 'aws.bedrock',
      requestModel: 'claude-sonnet-4',
      responseModel: 'claude-sonnet-4-20250514',
      responseId: 'msg_01',
      parameters: {
        temperature: 0.3,
        maxTokens: 512,
        topP: 0.8,
        topK: 40,
        stopSequences: ['END'],
        seed: 7n,
        frequencyPenalty: 0.1,
        presencePenalty: 0.2,
        choiceCount: 1,
        toolChoice: 'get_weather',
        responseFormat: { type: ResponseFormatType.JSON_OBJECT, schemaName: '' },
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
        case: 'plainContent',
        value: {
          inputMessages: [
            { role: Role.SYSTEM, name: '', parts: [textPart('Be brief.')] },
            {
              role: Role.USER,
              name: 'alice',
              parts: [
                textPart('What is on these?'),
                {
                  kind: {
                    case: 'media',
                    value: {
                      modality: Modality.IMAGE,
                      location: { case: 'uri', value: 'https://example.com/a.jpg' },
                    },
                  },
                },
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
                    value: {
                      modality: Modality.AUDIO,
                      mimeType: 'audio/wav',
                      location: { case: 'uri', value: 'https://example.com/q.wav' },
                    },
                  },
                },
              ],
            },
            {
              role: Role.ASSISTANT,
              parts: [toolCallPart('call_1', 'get_weather', '{"city":"Oslo"}')],
            },
            {
              role: Role.TOOL,
              name: 'get_weather',
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
              finishReason: FinishReason.STOP,
              parts: [textPart('Two cats.')],
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
        agentName: 'travel-agent',
        conversationId: 'conversation-9',
        attributes: {
          tier: 'pro',
          region: 'eu',
          retries: '2',
          'user.id': 'user-7',
          'tag.tags': '["travel","beta"]',
        },
      },
    });
    // Content and the end user stay out of the parameters, which are neither redacted nor encrypted.
    expect(call.parameters?.other).toEqual({ logit_bias: { '50256': -100 } });
    expect(blobs).toEqual([{ bytes: png, mimeType: 'image/png' }]);
  });

  it('reads Responses API invocation parameters: text.format, a named tool, max_output_tokens', () => {
    const call = mapped({
      'openinference.span.kind': 'LLM',
      'llm.invocation_parameters': JSON.stringify({
        model: 'gpt-4.1',
        instructions: 'kept out of other',
        max_output_tokens: 100,
        text: { format: { type: 'json_schema', name: 'capital', schema: weatherSchema } },
        tool_choice: { type: 'function', name: 'get_weather' },
      }),
    });
    expect(call.parameters).toMatchObject({
      maxTokens: 100,
      toolChoice: 'get_weather',
      responseFormat: {
        type: ResponseFormatType.JSON_SCHEMA,
        schemaName: 'capital',
        jsonSchema: weatherSchema,
      },
    });
    expect(call.parameters?.other).toEqual({
      text: { format: { type: 'json_schema', name: 'capital', schema: weatherSchema } },
    });
  });

  it('reads ordered reasoning, refusal and tool_use items without repeating the tool call', () => {
    const out = (index: number) => `${message(0, 'output')}.contents.${index}`;
    const call = mapped({
      'openinference.span.kind': 'LLM',
      [`${message(0, 'output')}.role`]: 'assistant',
      [`${out(0)}.message_content.type`]: 'reasoning',
      [`${out(0)}.message_content.text`]: 'The user wants the weather.',
      [`${out(1)}.message_content.type`]: 'tool_use',
      [`${out(1)}.tool_call.id`]: 'toolu_1',
      [`${out(1)}.tool_call.function.name`]: 'get_weather',
      [`${out(1)}.tool_call.function.arguments`]: '{"city":"Oslo"}',
      [`${out(2)}.message_content.type`]: 'refusal',
      [`${out(2)}.message_content.text`]: 'I cannot book flights.',
      [`${out(3)}.message_content.type`]: 'citation',
      [`${out(3)}.message_content.text`]: 'source 1',
      [`${message(0, 'output')}.tool_calls.0.tool_call.id`]: 'toolu_1',
      [`${message(0, 'output')}.tool_calls.0.tool_call.function.name`]: 'get_weather',
      [`${message(0, 'output')}.tool_calls.0.tool_call.function.arguments`]: '{"city":"Oslo"}',
      [`${message(0, 'output')}.tool_calls.1.tool_call.id`]: 'toolu_2',
      [`${message(0, 'output')}.tool_calls.1.tool_call.function.name`]: 'get_time',
      [`${message(0, 'output')}.tool_calls.1.tool_call.function.arguments`]: '{}',
      'llm.finish_reason': 'tool_use',
    });
    expect(call.content.value).toMatchObject({
      outputMessages: [
        {
          finishReason: FinishReason.TOOL_CALLS,
          parts: [
            { kind: { case: 'reasoning', value: { text: 'The user wants the weather.' } } },
            toolCallPart('toolu_1', 'get_weather', '{"city":"Oslo"}'),
            { kind: { case: 'refusal', value: { text: 'I cannot book flights.' } } },
            {
              kind: {
                case: 'other',
                value: { type: 'citation', content: { 'message_content.text': 'source 1' } },
              },
            },
            toolCallPart('toolu_2', 'get_time', '{}'),
          ],
        },
      ],
    });
  });

  it('makes the output items of a Responses API call one choice, ended as its status says', () => {
    const out = (index: number) => message(index, 'output');
    const response = {
      id: 'resp_1',
      object: 'response',
      status: 'completed',
      output: [
        {
          id: 'rs_1',
          type: 'reasoning',
          summary: [{ type: 'summary_text', text: 'Use the tool.' }],
        },
        { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'get_weather' },
      ],
    };
    const attributes = {
      'openinference.span.kind': 'LLM',
      [`${message(0)}.role`]: 'user',
      [`${message(0)}.content`]: 'Weather in Oslo?',
      [`${out(0)}.role`]: 'assistant',
      [`${out(0)}.contents.0.message_content.type`]: 'reasoning',
      [`${out(0)}.contents.0.message_content.text`]: 'Use the tool.',
      [`${out(1)}.role`]: 'assistant',
      [`${out(1)}.tool_calls.0.tool_call.id`]: 'call_1',
      [`${out(1)}.tool_calls.0.tool_call.function.name`]: 'get_weather',
      [`${out(1)}.tool_calls.0.tool_call.function.arguments`]: '{"city":"Oslo"}',
      'output.value': JSON.stringify(response),
      'output.mime_type': 'application/json',
    };
    const call = mapped(attributes, { name: 'OpenAI Responses' });
    expect(call).toMatchObject({
      responseId: 'resp_1',
      finishReasons: [FinishReason.TOOL_CALLS],
      content: {
        value: {
          inputMessages: [{ role: Role.USER, parts: [textPart('Weather in Oslo?')] }],
          outputMessages: [
            {
              role: Role.ASSISTANT,
              finishReason: FinishReason.TOOL_CALLS,
              parts: [
                { kind: { case: 'reasoning', value: { text: 'Use the tool.' } } },
                toolCallPart('call_1', 'get_weather', '{"city":"Oslo"}'),
              ],
            },
          ],
        },
      },
    });
    // A chat completion's output messages stay one per choice.
    const completion = { ...response, object: 'chat.completion' };
    const chat = mapped({ ...attributes, 'output.value': JSON.stringify(completion) });
    expect(chat.finishReasons).toEqual([]);
    expect(chat.content.value).toMatchObject({ outputMessages: [{}, {}] });
  });

  it('maps the deprecated function call and function role', () => {
    const call = mapped({
      'openinference.span.kind': 'LLM',
      [`${message(0)}.role`]: 'function',
      [`${message(0)}.name`]: 'get_weather',
      [`${message(0)}.content`]: 'cloudy',
      [`${message(0, 'output')}.role`]: 'assistant',
      [`${message(0, 'output')}.function_call_name`]: 'get_time',
      [`${message(0, 'output')}.function_call_arguments_json`]: '{"zone":"CET"}',
    });
    expect(call.content.value).toMatchObject({
      inputMessages: [
        {
          role: Role.TOOL,
          parts: [
            {
              kind: { case: 'toolCallResponse', value: { id: 'get_weather', response: 'cloudy' } },
            },
          ],
        },
      ],
      outputMessages: [{ parts: [toolCallPart('', 'get_time', '{"zone":"CET"}')] }],
    });
  });

  it('maps a completion: plain-text input and output values, or Python prompts and choices', () => {
    const js = mapped({
      'openinference.span.kind': 'LLM',
      'llm.model_name': 'gpt-3.5-turbo-instruct',
      'llm.invocation_parameters': JSON.stringify({ model: 'gpt-3.5-turbo-instruct' }),
      'input.value': 'Say hi',
      'input.mime_type': 'text/plain',
      'output.value': 'Hi!',
      'output.mime_type': 'text/plain',
    });
    expect(js).toMatchObject({
      operation: Operation.TEXT_COMPLETION,
      requestModel: 'gpt-3.5-turbo-instruct',
      responseModel: '',
      content: {
        value: {
          inputMessages: [{ role: Role.USER, parts: [textPart('Say hi')] }],
          outputMessages: [{ role: Role.ASSISTANT, parts: [textPart('Hi!')] }],
        },
      },
    });
    const python = mapped({
      'openinference.span.kind': 'LLM',
      'llm.prompts.0.prompt.text': 'Say hi',
      'llm.choices.0.completion.text': 'Hi!',
      'input.value': '{"prompt":"Say hi"}',
      'input.mime_type': 'application/json',
    });
    expect(python).toMatchObject({
      operation: Operation.TEXT_COMPLETION,
      content: {
        value: {
          inputMessages: [{ role: Role.USER, parts: [textPart('Say hi')] }],
          outputMessages: [{ role: Role.ASSISTANT, parts: [textPart('Hi!')] }],
        },
      },
    });
  });

  it('maps an embedding span: model, texts as one user message, token count', () => {
    const call = mapped(
      {
        'openinference.span.kind': 'EMBEDDING',
        'embedding.model_name': 'text-embedding-3-small',
        'embedding.embeddings.0.embedding.text': 'Oslo',
        'embedding.embeddings.1.embedding.text': 'Bergen',
        'embedding.embeddings.0.embedding.vector': [0.1, 0.2],
        'llm.system': 'openai',
        'llm.token_count.prompt': 4,
      },
      { name: 'OpenAI Embeddings' },
    );
    expect(call).toMatchObject({
      operation: Operation.EMBEDDINGS,
      provider: 'openai',
      requestModel: 'text-embedding-3-small',
      usage: { inputTokens: 4 },
      content: {
        value: {
          inputMessages: [{ role: Role.USER, parts: [textPart('Oslo'), textPart('Bergen')] }],
          outputMessages: [],
        },
      },
    });
  });

  it('marks streaming calls, with the first token when the Python event gives it', () => {
    const streamed = openInference.map(
      source({
        'openinference.span.kind': 'LLM',
        'llm.invocation_parameters': '{"model":"gpt-4o","stream":true}',
      }),
      noBlobs,
    );
    expect(streamed.streaming).toEqual({});
    const timed = openInference.map(
      source(
        { 'openinference.span.kind': 'LLM' },
        { events: [{ name: 'First Token Stream Event', timeUnixNano: start + 250_000_000n }] },
      ),
      noBlobs,
    );
    expect(timed.streaming).toEqual({ firstTokenUnixNano: start + 250_000_000n });
    const plain = openInference.map(
      source({ 'openinference.span.kind': 'LLM', 'llm.invocation_parameters': '{}' }),
      noBlobs,
    );
    expect(plain.streaming).toBeUndefined();
  });

  it('counts hidden text as no content, and keeps a hidden image as a part without its URL', () => {
    const hiddenText = mapped({
      'openinference.span.kind': 'LLM',
      [`${message(0)}.role`]: 'user',
      [`${message(0)}.content`]: '__REDACTED__',
      [`${message(0, 'output')}.role`]: 'assistant',
      [`${message(0, 'output')}.content`]: 'Oslo.',
    });
    expect(hiddenText).toMatchObject({ contentCaptured: false, content: { case: undefined } });
    const hiddenImage = mapped({
      'openinference.span.kind': 'LLM',
      [`${message(0)}.role`]: 'user',
      [`${message(0)}.contents.0.message_content.type`]: 'image',
      [`${message(0)}.contents.0.message_content.image.image.url`]: '__REDACTED__',
    });
    expect(hiddenImage).toMatchObject({
      contentCaptured: true,
      content: {
        value: {
          inputMessages: [
            {
              parts: [
                {
                  kind: {
                    case: 'media',
                    value: { modality: Modality.IMAGE, location: { case: undefined } },
                  },
                },
              ],
            },
          ],
        },
      },
    });
    const hiddenValues = mapped({
      'openinference.span.kind': 'LLM',
      'input.value': '__REDACTED__',
      'output.value': '__REDACTED__',
      'llm.token_count.prompt': 24,
    });
    expect(hiddenValues).toMatchObject({ contentCaptured: false, usage: { inputTokens: 24 } });
  });

  it('maps a failed call: what was asked, no answer, nothing invented', () => {
    const call = mapped(
      {
        'openinference.span.kind': 'LLM',
        'llm.model_name': 'gpt-4o',
        'llm.invocation_parameters': '{"model":"gpt-4o"}',
        [`${message(0)}.role`]: 'user',
        [`${message(0)}.content`]: 'Hi',
      },
      {
        status: { code: otlpTrace.Status_StatusCode.ERROR, message: '500 server error' },
        events: [
          {
            name: 'exception',
            timeUnixNano: start,
            attributes: { 'exception.type': 'InternalServerError', 'exception.message': '500' },
          },
        ],
      },
    );
    expect(call).toMatchObject({
      requestModel: 'gpt-4o',
      responseModel: '',
      finishReasons: [],
      content: { value: { inputMessages: [{ parts: [textPart('Hi')] }], outputMessages: [] } },
    });
    expect(call.usage).toEqual(create(UsageSchema));
  });

  it('normalises providers to semconv names', () => {
    const provider = (attributes: Record<string, Plain>) =>
      mapped({ 'openinference.span.kind': 'LLM', ...attributes }).provider;
    expect(provider({ 'llm.provider': 'azure', 'llm.system': 'openai' })).toBe('azure.ai.openai');
    expect(provider({ 'llm.provider': 'google', 'llm.system': 'vertexai' })).toBe('gcp.vertex_ai');
    expect(provider({ 'llm.provider': 'google' })).toBe('gcp.gen_ai');
    expect(provider({ 'llm.system': 'mistralai' })).toBe('mistral_ai');
    expect(provider({ 'llm.provider': 'xai' })).toBe('x_ai');
    expect(provider({ 'llm.provider': 'deepseek' })).toBe('deepseek');
  });

  it('recognises LLM and EMBEDDING spans only, and the semconv mapper does not take them', () => {
    const kind = (value: string) => source({ 'openinference.span.kind': value });
    expect(openInference.recognises(kind('LLM'))).toBe(true);
    expect(openInference.recognises(kind('EMBEDDING'))).toBe(true);
    for (const other of ['CHAIN', 'AGENT', 'TOOL', 'RETRIEVER', 'RERANKER', 'GUARDRAIL']) {
      expect(openInference.recognises(kind(other))).toBe(false);
    }
    expect(genAiAttributes.recognises(kind('LLM'))).toBe(false);
    expect(openInference.recognises(source({ 'gen_ai.operation.name': 'chat' }))).toBe(false);
  });

  it('answers for AGENT, CHAIN and TOOL spans: the root chain is the workflow', () => {
    const context = {
      'session.id': 'conversation-9',
      metadata: '{"tier":"pro"}',
    };
    const step = (attributes: Record<string, Plain>, init: SourceInit) =>
      openInference.step?.(source({ ...context, ...attributes }, init));
    const shared = { conversationId: 'conversation-9', attributes: { tier: 'pro' } };
    expect(step({ 'openinference.span.kind': 'AGENT' }, { name: 'travel-agent' })).toEqual({
      kind: StepKind.AGENT,
      name: 'travel-agent',
      ...shared,
    });
    expect(
      step({ 'openinference.span.kind': 'AGENT', 'agent.name': 'planner' }, { name: 'Agent run' }),
    ).toMatchObject({ kind: StepKind.AGENT, name: 'planner' });
    expect(step({ 'openinference.span.kind': 'CHAIN' }, { name: 'RunnableSequence' })).toEqual({
      kind: StepKind.TASK,
      name: 'RunnableSequence',
      ...shared,
    });
    expect(
      step({ 'openinference.span.kind': 'CHAIN' }, { name: 'LangGraph', parent: false }),
    ).toMatchObject({ kind: StepKind.WORKFLOW, name: 'LangGraph' });
    expect(
      step(
        { 'openinference.span.kind': 'TOOL', 'tool.name': 'get_weather', 'tool.id': 'call_1' },
        { name: 'tool call' },
      ),
    ).toEqual({ kind: StepKind.TOOL, name: 'get_weather', toolCallId: 'call_1', ...shared });
    expect(step({ 'openinference.span.kind': 'RETRIEVER' }, {})).toBeUndefined();
    expect(step({ 'openinference.span.kind': 'LLM' }, {})).toBeUndefined();
  });
});
