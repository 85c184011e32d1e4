import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordedCall } from './traffic.js';

export interface ReplayTeacher {
  /** OpenAI-compatible base URL, including `/v1`. */
  readonly url: string;
  close(): Promise<void>;
}

interface ChatRequest {
  readonly model?: string;
  readonly messages?: readonly { role: string; content?: unknown }[];
}

/**
 * A stand-in for the teacher LLM: answers a chat completion with the recorded answer to the
 * same user message, or says it has none. Lets the demo run without an API key or a network.
 */
export async function startReplayTeacher(calls: readonly RecordedCall[]): Promise<ReplayTeacher> {
  const answers = new Map(calls.map((call) => [call.user, call.assistant]));
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || !request.url?.endsWith('/chat/completions')) {
        response.writeHead(404).end();
        return;
      }
      let body: ChatRequest;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
      } catch {
        response.writeHead(400).end();
        return;
      }
      const user = body.messages?.findLast((message) => message.role === 'user')?.content;
      const content =
        (typeof user === 'string' ? answers.get(user) : undefined) ??
        'The replayed teacher has no recorded answer to this message.';
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: `chatcmpl-replay-${String(Date.now())}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: body.model ?? 'teacher',
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}/v1`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}
