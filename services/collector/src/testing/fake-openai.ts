import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small OpenAI-compatible server (`POST /v1/chat/completions`, `/v1/responses`,
 * `/v1/embeddings`) that the real client libraries and their instrumentations talk to in tests.
 * Its answers are fixed, so tests assert exactly what the collector must capture:
 * - a model named `fail-<status>` is answered with that HTTP status and an OpenAI error body;
 * - tools offered and the last message from the user: a call of the first tool (the Responses
 *   API answers it with a reasoning item before the call);
 * - the last message a tool result: a text that uses it;
 * - a JSON `response_format` (Responses: `text.format`): a JSON object;
 * - otherwise: a plain text answer;
 * - embeddings: a small vector per input, derived from its text.
 * Chat streaming (`stream: true`) sends the same answer as server-sent events, with a usage
 * chunk when `stream_options.include_usage` is set. Ids are derived from the request, so the
 * same request always gets the same id.
 */

/** What the fake answers, by kind of answer; tests assert these values. */
export const answers = {
  text: {
    content: 'The capital of Norway is Oslo.',
    usage: { prompt_tokens: 24, completion_tokens: 8 },
  },
  toolCall: {
    toolCall: { id: 'call_weather_oslo', name: 'get_weather', arguments: '{"city":"Oslo"}' },
    usage: { prompt_tokens: 52, completion_tokens: 17 },
  },
  afterTool: {
    content: 'It is 12 °C and cloudy in Oslo.',
    // Continuing a conversation re-reads its prefix from the provider's prompt cache.
    usage: { prompt_tokens: 81, completion_tokens: 12, cached_tokens: 64 },
  },
  json: {
    content: '{"city":"Oslo","country":"Norway"}',
    usage: { prompt_tokens: 30, completion_tokens: 11 },
  },
  /** What the Responses API says before its tool call: a summary of the model's reasoning. */
  reasoning: {
    id: 'rs_weather_oslo',
    summary: 'Live weather needs the get_weather tool.',
    /** Of the tool call's output tokens. */
    tokens: 9,
  },
  /** The Responses API's id of the function_call output item; `toolCall.id` is its call_id. */
  toolCallItemId: 'fc_weather_oslo',
  embedding: {
    /** Dimensions of every vector. */
    dimensions: 4,
    tokensPerInput: 3,
  },
} as const;

/** The model that answers a request for `model`: a dated snapshot, as OpenAI reports it. */
export function responseModel(model: string): string {
  return `${model}-2024-07-18`;
}

/** Unix seconds every answer claims to be created at. */
export const created = 1_750_000_000;

/** Pause between streamed chunks, so that time to first token is visibly below latency. */
const chunkDelayMs = 5;

interface ChatMessage {
  readonly role?: string;
  readonly content?: unknown;
}

interface ChatRequest {
  readonly model?: string;
  readonly messages?: readonly ChatMessage[];
  readonly tools?: readonly { readonly function?: { readonly name?: string } }[];
  readonly response_format?: { readonly type?: string };
  readonly stream?: boolean;
  readonly stream_options?: { readonly include_usage?: boolean };
}

/** A Responses API request: `input` text or items, tools flat (`{type, name, …}`). */
interface ResponsesRequest {
  readonly model?: string;
  readonly input?: string | readonly { readonly type?: string; readonly role?: string }[];
  readonly tools?: readonly { readonly name?: string }[];
  readonly text?: { readonly format?: { readonly type?: string } };
}

interface EmbeddingsRequest {
  readonly model?: string;
  readonly input?: string | readonly string[];
}

interface Answer {
  readonly content: string | null;
  readonly toolCall?: { readonly id: string; readonly name: string; readonly arguments: string };
  readonly finishReason: 'stop' | 'tool_calls';
  readonly usage: {
    readonly prompt_tokens: number;
    readonly completion_tokens: number;
    readonly cached_tokens?: number;
  };
}

/** What a request asks for, whichever API it came through. */
interface Turn {
  /** Who spoke last: the user, or a tool with its result. */
  readonly last: 'user' | 'tool' | undefined;
  /** The first tool offered. */
  readonly tool: string | undefined;
  readonly json: boolean;
}

const jsonFormats = new Set(['json_object', 'json_schema']);

function answerTo({ last, tool, json }: Turn): Answer {
  if (last === 'user' && tool !== undefined) {
    const { toolCall, usage } = answers.toolCall;
    return {
      content: null,
      toolCall: { ...toolCall, name: tool },
      finishReason: 'tool_calls',
      usage,
    };
  }
  if (last === 'tool') return { ...answers.afterTool, finishReason: 'stop' };
  if (json) return { ...answers.json, finishReason: 'stop' };
  return { ...answers.text, finishReason: 'stop' };
}

function chatTurn(request: ChatRequest): Turn {
  const role = request.messages?.at(-1)?.role;
  return {
    last: role === 'user' || role === 'tool' ? role : undefined,
    tool: request.tools?.[0]?.function?.name,
    json: jsonFormats.has(request.response_format?.type ?? ''),
  };
}

/** Text input is the user's; of items, a user message or a function call's output. */
function responsesTurn(request: ResponsesRequest): Turn {
  const { input } = request;
  const last = typeof input === 'string' ? { role: 'user' } : input?.at(-1);
  return {
    last:
      last?.type === 'function_call_output'
        ? 'tool'
        : last?.role === 'user' && (last.type ?? 'message') === 'message'
          ? 'user'
          : undefined,
    tool: request.tools?.[0]?.name,
    json: jsonFormats.has(request.text?.format?.type ?? ''),
  };
}

function usageOf(answer: Answer) {
  const { prompt_tokens, completion_tokens, cached_tokens } = answer.usage;
  return {
    prompt_tokens,
    completion_tokens,
    total_tokens: prompt_tokens + completion_tokens,
    prompt_tokens_details: { cached_tokens: cached_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

function toolCallsOf(answer: Answer) {
  if (answer.toolCall === undefined) return undefined;
  const { id, name, arguments: args } = answer.toolCall;
  return [{ index: 0, id, type: 'function', function: { name, arguments: args } }];
}

function completion(id: string, model: string, answer: Answer) {
  const toolCalls = toolCallsOf(answer)?.map(({ id, type, function: fn }) => ({
    id,
    type,
    function: fn,
  }));
  return {
    id,
    object: 'chat.completion',
    created,
    model: responseModel(model),
    system_fingerprint: 'fp_fake',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: answer.content,
          refusal: null,
          ...(toolCalls && { tool_calls: toolCalls }),
        },
        logprobs: null,
        finish_reason: answer.finishReason,
      },
    ],
    usage: usageOf(answer),
  };
}

/** The answer as the chunks OpenAI streams: role first, then content or tool call, then finish. */
function chunks(id: string, model: string, answer: Answer, includeUsage: boolean): unknown[] {
  const chunk = (delta: object, finishReason: string | null = null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: responseModel(model),
    system_fingerprint: 'fp_fake',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage && { usage: null as ReturnType<typeof usageOf> | null }),
  });
  const deltas: object[] = [{ role: 'assistant', content: '', refusal: null }];
  const toolCalls = toolCallsOf(answer);
  if (toolCalls) deltas.push({ tool_calls: toolCalls });
  for (const word of answer.content?.match(/\S+\s*/g) ?? []) deltas.push({ content: word });
  const all = [...deltas.map((delta) => chunk(delta)), chunk({}, answer.finishReason)];
  if (includeUsage) {
    all.push({ ...chunk({}), choices: [], usage: usageOf(answer) });
  }
  return all;
}

/** The answer as a Responses API response: output items instead of choices. */
function answerResponse(id: string, model: string, answer: Answer) {
  const { prompt_tokens, completion_tokens, cached_tokens } = answer.usage;
  const reasoningTokens = answer.toolCall === undefined ? 0 : answers.reasoning.tokens;
  const output =
    answer.toolCall === undefined
      ? [
          {
            id: `msg_${id.slice('resp_'.length)}`,
            type: 'message',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: answer.content ?? '', annotations: [] }],
          },
        ]
      : [
          {
            id: answers.reasoning.id,
            type: 'reasoning',
            summary: [{ type: 'summary_text', text: answers.reasoning.summary }],
          },
          {
            id: answers.toolCallItemId,
            type: 'function_call',
            status: 'completed',
            call_id: answer.toolCall.id,
            name: answer.toolCall.name,
            arguments: answer.toolCall.arguments,
          },
        ];
  return {
    id,
    object: 'response',
    created_at: created,
    status: 'completed',
    model: responseModel(model),
    output,
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    error: null,
    incomplete_details: null,
    usage: {
      input_tokens: prompt_tokens,
      input_tokens_details: { cached_tokens: cached_tokens ?? 0 },
      output_tokens: completion_tokens,
      output_tokens_details: { reasoning_tokens: reasoningTokens },
      total_tokens: prompt_tokens + completion_tokens,
    },
  };
}

/** A vector per input, from its text's bytes, so that equal texts embed equally. */
function embeddings(model: string, request: EmbeddingsRequest) {
  const inputs = typeof request.input === 'string' ? [request.input] : (request.input ?? []);
  const { dimensions, tokensPerInput } = answers.embedding;
  const vector = (input: string) => {
    const digest = createHash('sha256').update(input).digest();
    return Array.from({ length: dimensions }, (_, index) => (digest[index] ?? 0) / 255);
  };
  const tokens = inputs.length * tokensPerInput;
  return {
    object: 'list',
    model,
    data: inputs.map((input, index) => ({ object: 'embedding', index, embedding: vector(input) })),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

async function readJson(request: IncomingMessage): Promise<{ body: unknown; digest: string }> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  const raw = Buffer.concat(parts);
  return {
    body: JSON.parse(raw.toString('utf8')) as unknown,
    digest: createHash('sha256').update(raw).digest('hex').slice(0, 24),
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function stream(response: ServerResponse, events: readonly unknown[]): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const event of events) {
    response.write(`data: ${JSON.stringify(event)}\n\n`);
    await new Promise((resolve) => setTimeout(resolve, chunkDelayMs));
  }
  response.end('data: [DONE]\n\n');
}

const apis = ['chat/completions', 'responses', 'embeddings'] as const;
type Api = (typeof apis)[number];

async function reply(
  api: Api,
  body: unknown,
  digest: string,
  response: ServerResponse,
  issued: Set<string>,
): Promise<void> {
  const model = (body as { model?: string }).model ?? '';
  switch (api) {
    case 'chat/completions': {
      const request = body as ChatRequest;
      const id = `chatcmpl-${digest}`;
      issued.add(id);
      const chosen = answerTo(chatTurn(request));
      if (request.stream === true) {
        const usage = request.stream_options?.include_usage === true;
        await stream(response, chunks(id, model, chosen, usage));
      } else {
        send(response, 200, completion(id, model, chosen));
      }
      return;
    }
    case 'responses': {
      const id = `resp_${digest}`;
      issued.add(id);
      const request = body as ResponsesRequest;
      send(response, 200, answerResponse(id, model, answerTo(responsesTurn(request))));
      return;
    }
    case 'embeddings':
      send(response, 200, embeddings(model, body as EmbeddingsRequest));
      return;
  }
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  issued: Set<string>,
): Promise<void> {
  const path = request.url?.split('?')[0] ?? '';
  const api = apis.find((name) => path === `/v1/${name}`);
  if (request.method !== 'POST' || api === undefined) {
    send(response, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
    return;
  }
  const { body, digest } = await readJson(request);
  const failure = /^fail-(\d{3})$/.exec((body as { model?: string }).model ?? '');
  if (failure) {
    send(response, Number(failure[1]), {
      error: {
        message: 'The server had an error while processing your request.',
        type: 'server_error',
        param: null,
        code: null,
      },
    });
    return;
  }
  await reply(api, body, digest, response, issued);
}

export interface FakeOpenAi {
  /** Base URL for OpenAI clients, ending in `/v1`. */
  readonly baseUrl: string;
  /** Ids of the completions and responses answered so far. */
  readonly responseIds: ReadonlySet<string>;
  close(): Promise<void>;
}

export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  const responseIds = new Set<string>();
  const server = createServer((request, response) => {
    handle(request, response, responseIds).catch((error: unknown) => {
      if (response.headersSent) response.destroy();
      else send(response, 400, { error: { message: String(error), type: 'invalid_request' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    responseIds,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
