import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small OpenAI-compatible server (`POST /v1/chat/completions`) that the real client libraries
 * and their instrumentations talk to in tests. Its answers are fixed, so tests assert exactly
 * what the collector must capture:
 * - a model named `fail-<status>` is answered with that HTTP status and an OpenAI error body;
 * - tools offered and the last message from the user: a call of the first tool;
 * - the last message a tool result: a text that uses it;
 * - a JSON `response_format`: a JSON object;
 * - otherwise: a plain text answer.
 * Streaming (`stream: true`) sends the same answer as server-sent events, with a usage chunk
 * when `stream_options.include_usage` is set. Ids are derived from the request, so the same
 * request always gets the same id.
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

function answerTo(request: ChatRequest): Answer {
  const last = request.messages?.at(-1);
  const tool = request.tools?.[0]?.function?.name;
  if (last?.role === 'user' && tool !== undefined) {
    const { toolCall, usage } = answers.toolCall;
    return {
      content: null,
      toolCall: { ...toolCall, name: tool },
      finishReason: 'tool_calls',
      usage,
    };
  }
  if (last?.role === 'tool') return { ...answers.afterTool, finishReason: 'stop' };
  const format = request.response_format?.type;
  if (format === 'json_object' || format === 'json_schema') {
    return { ...answers.json, finishReason: 'stop' };
  }
  return { ...answers.text, finishReason: 'stop' };
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

async function readJson(request: IncomingMessage): Promise<{ body: ChatRequest; digest: string }> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  const raw = Buffer.concat(parts);
  return {
    body: JSON.parse(raw.toString('utf8')) as ChatRequest,
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

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  issued: Set<string>,
): Promise<void> {
  if (request.method !== 'POST' || request.url?.split('?')[0] !== '/v1/chat/completions') {
    send(response, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
    return;
  }
  const { body, digest } = await readJson(request);
  const model = body.model ?? '';
  const failure = /^fail-(\d{3})$/.exec(model);
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
  const id = `chatcmpl-${digest}`;
  issued.add(id);
  const answer = answerTo(body);
  if (body.stream === true) {
    await stream(response, chunks(id, model, answer, body.stream_options?.include_usage === true));
  } else {
    send(response, 200, completion(id, model, answer));
  }
}

export interface FakeOpenAi {
  /** Base URL for OpenAI clients, ending in `/v1`. */
  readonly baseUrl: string;
  /** Ids of the completions answered so far. */
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
