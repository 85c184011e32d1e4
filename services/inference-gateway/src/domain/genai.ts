import type { Attributes } from '@opentelemetry/api';
import { textOf, type ChatCompletion, type ChatMessage, type ChatRequest } from './openai.js';

/**
 * OpenTelemetry GenAI semantic conventions (≥ 1.37): content as JSON attributes, so the
 * collector reads the gateway's own spans like any instrumented agent's.
 */
export function requestAttributes(request: ChatRequest, provider: string): Attributes {
  const tools = (request.tools ?? []).flatMap((tool) =>
    tool.function === undefined ? [] : [{ type: tool.type, ...tool.function }],
  );
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': request.model,
    ...(request.temperature !== undefined && { 'gen_ai.request.temperature': request.temperature }),
    ...(request.top_p !== undefined && { 'gen_ai.request.top_p': request.top_p }),
    ...(maxTokens !== undefined && { 'gen_ai.request.max_tokens': maxTokens }),
    'gen_ai.input.messages': JSON.stringify(request.messages.map((m) => semconvMessage(m))),
    ...(tools.length > 0 && { 'gen_ai.tool.definitions': JSON.stringify(tools) }),
  };
}

export function responseAttributes(completion: ChatCompletion): Attributes {
  const choices = completion.choices ?? [];
  const { usage } = completion;
  return {
    ...(completion.id !== undefined && { 'gen_ai.response.id': completion.id }),
    ...(completion.model !== undefined && { 'gen_ai.response.model': completion.model }),
    'gen_ai.response.finish_reasons': choices.map((c) => c.finish_reason ?? ''),
    ...(usage?.prompt_tokens !== undefined && {
      'gen_ai.usage.input_tokens': usage.prompt_tokens,
    }),
    ...(usage?.completion_tokens !== undefined && {
      'gen_ai.usage.output_tokens': usage.completion_tokens,
    }),
    'gen_ai.output.messages': JSON.stringify(
      choices.map((choice) => ({
        ...semconvMessage(choice.message ?? { role: 'assistant' }),
        finish_reason: choice.finish_reason ?? '',
      })),
    ),
  };
}

type Part =
  | { type: 'text'; content: string }
  | { type: 'tool_call'; id: string; name: string; arguments: unknown }
  | { type: 'tool_call_response'; id: string; response: string };

function semconvMessage(message: ChatMessage): { role: string; parts: Part[]; name?: string } {
  const parts: Part[] = [];
  const text = textOf(message.content);
  if (message.role === 'tool') {
    parts.push({ type: 'tool_call_response', id: message.tool_call_id ?? '', response: text });
  } else if (text !== '') {
    parts.push({ type: 'text', content: text });
  }
  for (const call of message.tool_calls ?? []) {
    parts.push({
      type: 'tool_call',
      id: call.id,
      name: call.function.name,
      arguments: parseOrKeep(call.function.arguments),
    });
  }
  return { role: message.role, parts, ...(message.name !== undefined && { name: message.name }) };
}

/** Arguments as an object when they are JSON, as the model wrote them otherwise. */
function parseOrKeep(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
