import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { ROOT_CONTEXT, SpanKind, propagation, trace, type Tracer } from '@opentelemetry/api';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { InjectConfig } from '@understudy/service';
import { withSpan, type Logger } from '@understudy/telemetry';
import { InjectLogger } from '@understudy/telemetry/nest';
import type { GatewayConfig } from '../config.js';
import { Gateway, type Reply } from '../domain/gateway.js';
import { openAiError, parseChatRequest } from '../domain/openai.js';
import { apiKeyOf, TenantKeys } from '@understudy/tenancy';

/**
 * The OpenAI-compatible edge: `POST /v1/chat/completions` and `GET /v1/models`, authenticated
 * by tenant API key. Listens once the application has bootstrapped; stops taking requests
 * first at shutdown and waits for those in flight.
 */
@Injectable()
export class GatewayHttpServer implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #server: Server;
  readonly #tracer: Tracer = trace.getTracer('understudy.inference-gateway');

  constructor(
    @InjectConfig() private readonly config: GatewayConfig,
    @Inject(Gateway) private readonly gateway: Gateway,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
    @InjectLogger() private readonly logger: Logger,
  ) {
    this.#server = createServer((req, res) => {
      this.#serve(req, res).catch((error: unknown) => {
        this.logger.error({ err: error }, 'request failed');
        res.destroy();
      });
    });
  }

  /** The port listened on, once bootstrapped (the configured one unless that was 0). */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.#server.listen(this.config.http.port, this.config.http.host);
    await once(this.#server, 'listening');
    this.logger.info({ port: this.port }, 'serving OpenAI-compatible HTTP');
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise((resolve) => this.#server.close(resolve));
    this.#server.closeIdleConnections();
    await closed;
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = headerOf(req, 'x-request-id') ?? randomUUID();
    res.setHeader('x-request-id', requestId);
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    const endpoint = `${req.method ?? 'GET'} ${path}`;
    if (endpoint !== 'POST /v1/chat/completions' && endpoint !== 'GET /v1/models') {
      send(res, 404, openAiError(`no route for ${endpoint}`, 'invalid_request_error', 'not_found'));
      return;
    }
    await withSpan(
      this.#tracer,
      endpoint,
      async (span) => {
        const reply = await this.#answer(req, res, requestId, path);
        span.setAttribute('http.response.status_code', reply.status);
        await write(res, reply);
      },
      { 'http.request.method': req.method ?? 'GET', 'url.path': path },
      { kind: SpanKind.SERVER, parent: propagation.extract(ROOT_CONTEXT, req.headers) },
    );
  }

  async #answer(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    path: string,
  ): Promise<Reply> {
    const key = apiKeyOf(req.headers);
    const tenantId = key === undefined ? undefined : this.keys.tenantOf(key);
    if (tenantId === undefined) {
      return json(
        401,
        openAiError('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'),
      );
    }
    const hangUp = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) hangUp.abort();
    });
    if (path === '/v1/models') return this.gateway.models(hangUp.signal);
    try {
      const request = parseChatRequest(await readJson(req, this.config.maxBodyBytes));
      const agentName = headerOf(req, 'x-understudy-agent');
      return await this.gateway.chat(request, {
        tenantId,
        requestId,
        signal: hangUp.signal,
        ...(agentName !== undefined && { agentName }),
      });
    } catch (error) {
      const invalid = [ErrorCode.InvalidArgument, ErrorCode.PayloadTooLarge] as const;
      if (!(error instanceof UnderstudyError) || !invalid.some((c) => c === error.code)) {
        throw error;
      }
      const status = error.code === ErrorCode.PayloadTooLarge ? 413 : 400;
      return json(status, openAiError(error.message, 'invalid_request_error', 'invalid_request'));
    }
  }
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new UnderstudyError(ErrorCode.PayloadTooLarge, `the body exceeds ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'the body is not valid JSON', {
      cause: error,
    });
  }
}

function json(status: number, body: unknown): Reply {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Writes a reply, a stream chunk by chunk as it arrives, pausing while the socket is full. */
async function write(res: ServerResponse, reply: Reply): Promise<void> {
  res.writeHead(reply.status, reply.headers);
  if (typeof reply.body === 'string') {
    res.end(reply.body);
    return;
  }
  res.flushHeaders();
  for await (const chunk of reply.body) {
    if (res.destroyed) break;
    if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  }
  res.end();
}
