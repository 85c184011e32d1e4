import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  invoiceInstructions,
  lookupOrder,
  orderInstructions,
  type ChatCompletion,
  type ChatMessage,
  type ChatRequest,
} from './agent-simulator.js';

/**
 * The large model, played by a local OpenAI-compatible server: it answers each task the way a
 * capable LLM would (invoices as JSON, order questions with a lookup_order tool call, anything
 * else in a sentence), deterministically, and remembers every request it received.
 */
export interface FakeLlm {
  /** Base URL including the version, as OpenAI clients and the gateway expect: `…/v1`. */
  readonly baseUrl: string;
  /** Chat completion requests received, oldest first. */
  readonly requests: readonly ChatRequest[];
  close(): Promise<void>;
}

export async function startFakeLlm(): Promise<FakeLlm> {
  const requests: ChatRequest[] = [];
  const server = createServer((req, res) => {
    answer(req, res, requests).catch(() => res.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${String(port)}/v1`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  requests: ChatRequest[],
): Promise<void> {
  const json = (status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const endpoint = `${req.method ?? ''} ${new URL(req.url ?? '/', 'http://llm').pathname}`;
  if (endpoint === 'GET /v1/models') {
    json(200, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model' }] });
    return;
  }
  if (endpoint !== 'POST /v1/chat/completions') {
    json(404, { error: { message: `no route for ${endpoint}`, type: 'invalid_request_error' } });
    return;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
  requests.push(request);
  json(200, completionOf(request, requests.length));
}

function completionOf(request: ChatRequest, n: number): ChatCompletion {
  const message = teacher(request);
  const words = (text: string | null) => (text ?? '').split(/\s+/).filter(Boolean).length;
  return {
    id: `chatcmpl-llm-${String(n)}`,
    object: 'chat.completion',
    model: request.model,
    choices: [
      {
        index: 0,
        message,
        finish_reason: message.tool_calls === undefined ? 'stop' : 'tool_calls',
      },
    ],
    // Words stand in for tokens: the counts only need to add up where they are reported.
    usage: {
      prompt_tokens: request.messages.reduce((sum, m) => sum + words(m.content), 0),
      completion_tokens:
        words(message.content) +
        (message.tool_calls ?? []).reduce((sum, c) => sum + words(c.function.arguments), 0),
    },
  };
}

/** The teacher's answer: what the small models are trained to say. */
export function teacher(request: ChatRequest): ChatMessage {
  const system = request.messages.find((m) => m.role === 'system')?.content ?? '';
  const user = request.messages.findLast((m) => m.role === 'user')?.content ?? '';
  if (system === invoiceInstructions) {
    const vendor = /^Invoice \S+ from (.+)$/m.exec(user)?.[1] ?? '';
    const [, total = '0', currency = ''] = /^Total due: ([\d.]+) ([A-Z]{3})$/m.exec(user) ?? [];
    return {
      role: 'assistant',
      content: JSON.stringify({ vendor, total: Number(total), currency }),
    };
  }
  const canLookUp = request.tools?.some((t) => t.function.name === lookupOrder.function.name);
  const order = /order number is ([A-Z]+-\d+)/.exec(user)?.[1];
  if (system === orderInstructions && canLookUp === true && order !== undefined) {
    return {
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          id: `call_${order}`,
          type: 'function',
          function: {
            name: lookupOrder.function.name,
            arguments: JSON.stringify({ order_id: order }),
          },
        },
      ],
    };
  }
  return { role: 'assistant', content: `Happy to help with “${user}”: here is my answer.` };
}
