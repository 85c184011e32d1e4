import { create } from '@bufbuild/protobuf';
import { LlmCallSchema, Operation, Role, SourceFormat } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { toLlmCall } from './call.js';
import { requestAttributes, responseAttributes } from './genai.js';
import type { ChatRequest } from './openai.js';

const request: ChatRequest = {
  model: 'gpt-4o-mini',
  temperature: 0.2,
  max_tokens: 64,
  tool_choice: { type: 'function', function: { name: 'lookup' } },
  tools: [
    {
      type: 'function',
      function: { name: 'lookup', description: 'find', parameters: { type: 'object' } },
    },
  ],
  messages: [
    { role: 'system', content: 'Be brief.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Where is ' },
        { type: 'text', text: 'X?' },
      ],
    },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"X"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'c1', content: 'in Y' },
  ],
};

describe('toLlmCall', () => {
  it('names the calling agent, as its own spans do, so both share a task signature', () => {
    const identity = { tenantId: 't', traceId: '', spanId: '', provider: 'openai' };
    const named = create(LlmCallSchema, toLlmCall(request, { ...identity, agentName: 'billing' }));
    expect(named.context?.agentName).toBe('billing');
    expect(create(LlmCallSchema, toLlmCall(request, identity)).context).toBeUndefined();
  });

  it('normalizes an OpenAI request like the collector normalizes telemetry', () => {
    const call = create(
      LlmCallSchema,
      toLlmCall(request, {
        tenantId: 't',
        traceId: 'a'.repeat(32),
        spanId: 'b'.repeat(16),
        provider: 'openai',
      }),
    );
    expect(call).toMatchObject({
      tenantId: 't',
      operation: Operation.CHAT,
      requestModel: 'gpt-4o-mini',
      contentCaptured: true,
      source: { format: SourceFormat.GATEWAY },
      parameters: { temperature: 0.2, maxTokens: 64, toolChoice: 'lookup' },
    });
    expect(call.content.case).toBe('plainContent');
    const content = call.content.case === 'plainContent' ? call.content.value : undefined;
    expect(content?.inputMessages.map((m) => m.role)).toEqual([
      Role.SYSTEM,
      Role.USER,
      Role.ASSISTANT,
      Role.TOOL,
    ]);
    expect(content?.inputMessages[1]?.parts[0]?.kind).toMatchObject({
      case: 'text',
      value: { text: 'Where is X?' },
    });
    expect(content?.inputMessages[2]?.parts[0]?.kind.case).toBe('toolCall');
    expect(content?.inputMessages[3]?.parts[0]?.kind).toMatchObject({
      case: 'toolCallResponse',
      value: { id: 'c1', response: 'in Y' },
    });
    expect(content?.toolDefinitions[0]).toMatchObject({
      name: 'lookup',
      parameters: { type: 'object' },
    });
  });
});

describe('GenAI attributes', () => {
  it('describe request and response in the semantic conventions ≥ 1.37', () => {
    const attributes = {
      ...requestAttributes(request, 'openai'),
      ...responseAttributes({
        id: 'chatcmpl-1',
        model: 'gpt-4o-mini-2024',
        choices: [{ message: { role: 'assistant', content: 'In Y.' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 12, completion_tokens: 3 },
      }),
    };
    expect(attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.response.id': 'chatcmpl-1',
      'gen_ai.response.model': 'gpt-4o-mini-2024',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 3,
    });
    expect(JSON.parse(String(attributes['gen_ai.input.messages']))).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
      { role: 'user', parts: [{ type: 'text', content: 'Where is X?' }] },
      {
        role: 'assistant',
        parts: [{ type: 'tool_call', id: 'c1', name: 'lookup', arguments: { q: 'X' } }],
      },
      { role: 'tool', parts: [{ type: 'tool_call_response', id: 'c1', response: 'in Y' }] },
    ]);
    expect(JSON.parse(String(attributes['gen_ai.output.messages']))).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: 'In Y.' }], finish_reason: 'stop' },
    ]);
    expect(JSON.parse(String(attributes['gen_ai.tool.definitions']))).toEqual([
      { type: 'function', name: 'lookup', description: 'find', parameters: { type: 'object' } },
    ]);
  });
});
