import { ErrorCode, UnderstudyError } from '@understudy/errors';

/** The parts of OpenAI's chat completion request the gateway reads; the rest passes through. */
export interface ChatRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly stream?: boolean;
  readonly tools?: readonly Tool[];
  readonly tool_choice?: unknown;
  readonly temperature?: number;
  readonly max_tokens?: number;
  readonly max_completion_tokens?: number;
  readonly top_p?: number;
  readonly [field: string]: unknown;
}

export interface ChatMessage {
  readonly role: string;
  readonly content?: string | readonly ContentPart[] | null;
  readonly name?: string;
  readonly tool_calls?: readonly ToolCall[];
  readonly tool_call_id?: string;
}

export interface ContentPart {
  readonly type: string;
  readonly text?: string;
}

export interface ToolCall {
  readonly id: string;
  readonly type: string;
  readonly function: { readonly name: string; readonly arguments: string };
}

export interface Tool {
  readonly type: string;
  readonly function?: {
    readonly name: string;
    readonly description?: string;
    readonly parameters?: Record<string, unknown>;
  };
}

/** The parts of a (non-streamed) chat completion the gateway reads for its telemetry. */
export interface ChatCompletion {
  readonly id?: string;
  readonly model?: string;
  readonly choices?: readonly {
    readonly message?: ChatMessage;
    readonly finish_reason?: string | null;
  }[];
  readonly usage?: Usage | null;
}

export interface Usage {
  readonly prompt_tokens?: number;
  readonly completion_tokens?: number;
}

/** One `chat.completion.chunk` of a stream. */
export interface ChatCompletionChunk {
  readonly id?: string;
  readonly model?: string;
  readonly choices?: readonly {
    readonly index?: number;
    readonly delta?: {
      readonly role?: string;
      readonly content?: string | null;
      readonly tool_calls?: readonly {
        readonly index: number;
        readonly id?: string;
        readonly function?: { readonly name?: string; readonly arguments?: string };
      }[];
    };
    readonly finish_reason?: string | null;
  }[];
  readonly usage?: Usage | null;
}

/** Checks the shape just enough to route and describe the call; the upstream validates the rest. */
export function parseChatRequest(body: unknown): ChatRequest {
  const invalid = (message: string) => new UnderstudyError(ErrorCode.InvalidArgument, message);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('the request body must be a JSON object');
  }
  const { model, messages, stream, tools } = body as Record<string, unknown>;
  if (typeof model !== 'string' || model === '') throw invalid('`model` must be a string');
  if (!Array.isArray(messages) || messages.length === 0) {
    throw invalid('`messages` must be a non-empty array');
  }
  for (const message of messages) {
    if (typeof message !== 'object' || message === null || !('role' in message)) {
      throw invalid('every message needs a `role`');
    }
  }
  if (stream !== undefined && typeof stream !== 'boolean') throw invalid('`stream` is a boolean');
  if (tools !== undefined && !Array.isArray(tools)) throw invalid('`tools` must be an array');
  return body as ChatRequest;
}

/** The text of a message's content, parts joined. */
export function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  return (content ?? []).map((part) => part.text ?? '').join('');
}

/** OpenAI's error body, which clients parse into their own exceptions. */
export function openAiError(
  message: string,
  type: string,
  code: string,
): { error: { message: string; type: string; param: null; code: string } } {
  return { error: { message, type, param: null, code } };
}
