import { Operation, SourceFormat } from '@understudy/contracts';
import {
  decimal,
  defined,
  integer,
  structured,
  text,
  texts,
  type Value,
  type ValueObject,
} from '../attributes.js';
import { finishReasonOf, messagesOf, partsOf, toolsOf } from './genai-content.js';
import type { MappedCall, SourceSpan, SpanMapper } from './mapper.js';

/** Operations that are calls to a model; agent, tool and workflow operations are not. */
const operations: Record<string, Operation> = {
  chat: Operation.CHAT,
  text_completion: Operation.TEXT_COMPLETION,
  generate_content: Operation.GENERATE_CONTENT,
  embeddings: Operation.EMBEDDINGS,
};

const contentKeys = [
  'gen_ai.system_instructions',
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.tool.definitions',
] as const;

function parameters(a: ValueObject): MappedCall['call']['parameters'] {
  const seed = integer(a['gen_ai.request.seed']);
  return {
    ...defined({
      temperature: decimal(a['gen_ai.request.temperature']),
      maxTokens: integer(a['gen_ai.request.max_tokens']),
      topP: decimal(a['gen_ai.request.top_p']),
      topK: integer(a['gen_ai.request.top_k']),
      seed: seed === undefined ? undefined : BigInt(seed),
      frequencyPenalty: decimal(a['gen_ai.request.frequency_penalty']),
      presencePenalty: decimal(a['gen_ai.request.presence_penalty']),
      choiceCount: integer(a['gen_ai.request.choice.count']),
    }),
    stopSequences: texts(a['gen_ai.request.stop_sequences']) ?? [],
  };
}

function usage(a: ValueObject): MappedCall['call']['usage'] {
  return defined({
    inputTokens: integer(a['gen_ai.usage.input_tokens'] ?? a['gen_ai.usage.prompt_tokens']),
    outputTokens: integer(a['gen_ai.usage.output_tokens'] ?? a['gen_ai.usage.completion_tokens']),
    cachedInputTokens: integer(a['gen_ai.usage.cache_read.input_tokens']),
    cacheCreationInputTokens: integer(a['gen_ai.usage.cache_creation.input_tokens']),
    reasoningTokens: integer(a['gen_ai.usage.reasoning.output_tokens']),
  });
}

function content(a: ValueObject): Pick<MappedCall['call'], 'contentCaptured' | 'content'> {
  const [system, input, output, tools] = contentKeys.map((key) => structured(a[key]));
  const present = (value: Value | undefined) => value !== undefined && value !== null;
  if (![system, input, output, tools].some(present)) return { contentCaptured: false };
  return {
    contentCaptured: true,
    content: {
      case: 'plainContent',
      value: {
        systemInstructions: present(system) ? partsOf(system) : [],
        inputMessages: messagesOf(input) ?? [],
        outputMessages: messagesOf(output) ?? [],
        toolDefinitions: toolsOf(tools) ?? [],
      },
    },
  };
}

/**
 * OTel GenAI semantic conventions ≥ 1.37: everything, content included, in span attributes
 * (`gen_ai.input.messages` and friends, JSON text or structured values).
 */
export const genAiAttributes: SpanMapper = {
  format: SourceFormat.OTEL_GENAI_ATTRIBUTES,

  recognises({ attributes }: SourceSpan): boolean {
    const operation = text(attributes['gen_ai.operation.name']);
    return operation !== undefined && operation in operations;
  },

  map({ attributes: a }: SourceSpan): MappedCall {
    return {
      call: {
        operation: operations[text(a['gen_ai.operation.name']) ?? ''] ?? Operation.UNSPECIFIED,
        provider: (text(a['gen_ai.provider.name']) ?? text(a['gen_ai.system']) ?? '').toLowerCase(),
        requestModel: text(a['gen_ai.request.model']) ?? '',
        responseModel: text(a['gen_ai.response.model']) ?? '',
        responseId: text(a['gen_ai.response.id']) ?? '',
        parameters: parameters(a),
        finishReasons: (texts(a['gen_ai.response.finish_reasons']) ?? []).map(finishReasonOf),
        usage: usage(a),
        ...content(a),
      },
      context: {
        agentId: text(a['gen_ai.agent.id']) ?? '',
        agentName: text(a['gen_ai.agent.name']) ?? '',
        conversationId: text(a['gen_ai.conversation.id']) ?? '',
      },
    };
  },
};
