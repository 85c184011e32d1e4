import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';

/** What the fake answers one request with. */
export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Waits this long before answering (for timeouts). */
  readonly delayMs?: number;
}

export interface EmbeddingsRequest {
  readonly model: string;
  readonly input: readonly string[];
  readonly encoding_format?: string;
  readonly dimensions?: number;
  readonly authorization: string | undefined;
}

/** A reply of the given status with an OpenAI-style error body. */
export const failure = (status: number, headers?: Record<string, string>): Reply => ({
  status,
  body: { error: { message: `fake failure ${String(status)}`, type: 'server_error' } },
  ...(headers && { headers }),
});

/**
 * A deterministic vector of `dimension` values for a text (not normalised, so that the client's
 * normalisation shows): its first value is the text's length, so a test can tell which is which.
 */
export function fakeVector(input: string, dimension = 4): number[] {
  return Array.from({ length: dimension }, (_, i) => (i === 0 ? input.length : i + 1));
}

/** The answer of a healthy server, in the order the inputs came, shuffled indices aside. */
export function embeddingsReply(request: EmbeddingsRequest): Reply {
  const data = request.input.map((input, index) => ({
    object: 'embedding',
    index,
    embedding: fakeVector(input),
  }));
  // Real servers may answer out of order; the index is what counts.
  return { status: 200, body: { object: 'list', model: request.model, data: data.reverse() } };
}

/**
 * An OpenAI-compatible `/v1/embeddings` server on loopback whose answers a test scripts: a queue
 * of replies (or functions of the request) consumed in order, then healthy answers. It records
 * every request and the most requests it had in flight at once.
 */
export class FakeOpenAi {
  readonly requests: EmbeddingsRequest[] = [];
  maxInFlight = 0;
  private inFlight = 0;
  private readonly queue: ((request: EmbeddingsRequest) => Reply)[] = [];

  private readonly server: Server;
  private address = '';

  private constructor() {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
  }

  /** Up to and including `/v1`. */
  get baseUrl(): string {
    return this.address;
  }

  static async start(): Promise<FakeOpenAi> {
    const fake = new FakeOpenAi();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    const { port } = fake.server.address() as AddressInfo;
    fake.address = `http://127.0.0.1:${String(port)}/v1`;
    return fake;
  }

  /** Answers the next requests with these replies, in order. */
  answer(...replies: (Reply | ((request: EmbeddingsRequest) => Reply))[]): this {
    this.queue.push(...replies.map((reply) => (typeof reply === 'function' ? reply : () => reply)));
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const body = JSON.parse(await text(request)) as Omit<EmbeddingsRequest, 'authorization'>;
      const received = { ...body, authorization: request.headers.authorization };
      this.requests.push(received);
      const reply = (this.queue.shift() ?? embeddingsReply)(received);
      await new Promise((resolve) => setTimeout(resolve, reply.delayMs ?? 5));
      if (response.destroyed) return;
      response.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      response.end(JSON.stringify(reply.body));
    } finally {
      this.inFlight -= 1;
    }
  }
}
