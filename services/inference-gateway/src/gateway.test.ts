import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  ClustererService,
  ModelRegistryService,
  ModelStage,
  otlpTraceService,
  RouteSchema,
  RoutingTableChangeSchema,
  type LlmCall,
  type Route,
  type RoutingTableChange,
  type WatchRoutingTableRequest,
  type WatchRoutingTableResponseSchema,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { GrpcServer, type CallContext, type ServiceImpl } from '@understudy/grpc';
import { startService, type RunningService } from '@understudy/service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoutingWatch } from './drivers/routing-watch.js';
import { GatewayHttpServer } from './handlers/http-server.js';
import { definition } from './service.js';
import type { settings } from './config.js';

// Real processes on loopback: two OpenAI-compatible upstreams, a registry and a clusterer
// double on real gRPC servers, an OTLP receiver, and the gateway started as the service runs.

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
  const server = createServer((req, res) => {
    handler(req, res).catch(() => res.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = body['messages'] as { role: string; content: string }[];
  return messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
}

/**
 * An OpenAI-compatible server answering as `name`. The last user message steers it: `<name>:fail`
 * errs, `<name>:hang` answers after 1.5 s; a stream waits for `release()` before its second half.
 */
async function fakeOpenAi(name: string) {
  const requests: Recorded[] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  const server = await listen(async (req, res) => {
    const raw = await bodyOf(req);
    const body = raw.length > 0 ? (JSON.parse(raw.toString()) as Record<string, unknown>) : {};
    const path = req.url ?? '';
    requests.push({ method: req.method ?? '', path, headers: req.headers, body });
    const json = (status: number, value: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (path === '/v1/models') {
      json(200, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model' }] });
      return;
    }
    const text = lastUserText(body);
    if (text.includes(`${name}:fail`)) {
      json(500, { error: { message: `${name} broke`, type: 'server_error' } });
      return;
    }
    if (text.includes(`${name}:hang`)) await sleep(1500);
    if (res.destroyed) return;
    const model = String(body['model']);
    if (body['stream'] === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      const base = { id: `${name}-s`, object: 'chat.completion.chunk', model };
      send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: `${name}:` } }] });
      await gate;
      send({ ...base, choices: [{ index: 0, delta: { content: 'done' }, finish_reason: 'stop' }] });
      send({ ...base, choices: [], usage: { prompt_tokens: 4, completion_tokens: 2 } });
      res.end('data: [DONE]\n\n');
      return;
    }
    json(200, {
      id: `${name}-1`,
      object: 'chat.completion',
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: `${name} answer` },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    });
  });
  return {
    ...server,
    requests,
    hold: () => {
      gate = new Promise((resolve) => (release = resolve));
    },
    release: () => {
      release();
    },
  };
}

type WatchReply = MessageInitShape<typeof WatchRoutingTableResponseSchema>;

/** WatchRoutingTable over a table the test changes; every other RPC is unimplemented. */
function registryDouble(initial: Route[]) {
  const changes: RoutingTableChange[] = [];
  /** The `authorization` metadata of each watch. */
  const authorizations: unknown[] = [];
  let revision = 1n;
  let wake: () => void = () => undefined;
  const watchRoutingTable = async function* (
    request: WatchRoutingTableRequest,
    ctx: CallContext,
  ): AsyncGenerator<WatchReply> {
    authorizations.push(...ctx.metadata.get('authorization'));
    let applied = request.fromRevision;
    if (applied === 0n) {
      yield { kind: { case: 'snapshot', value: { revision: 1n, routes: initial } } };
      applied = 1n;
    }
    while (!ctx.signal.aborted) {
      for (const change of changes.filter((c) => c.revision > applied)) {
        yield { kind: { case: 'change', value: change } };
        applied = change.revision;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        ctx.signal.addEventListener(
          'abort',
          () => {
            resolve();
          },
          { once: true },
        );
      });
    }
  };
  return {
    impl: unimplementedExcept<typeof ModelRegistryService>({ watchRoutingTable }),
    authorizations,
    push(tenantId: string, routes: Route[]) {
      revision += 1n;
      changes.push(create(RoutingTableChangeSchema, { revision, tenantId, routes }));
      wake();
    },
  };
}

function unimplementedExcept<S extends typeof ModelRegistryService | typeof ClustererService>(
  methods: object,
): ServiceImpl<S> {
  return new Proxy(methods, {
    get: (target, name) =>
      (Reflect.get(target, name) as unknown) ??
      (() => {
        throw new UnderstudyError(ErrorCode.Unimplemented, String(name));
      }),
  }) as ServiceImpl<S>;
}

/** Classifies by a `task:<id>` marker in the last user message; `slow` misses the deadline. */
function clustererDouble() {
  const calls: LlmCall[] = [];
  const impl = unimplementedExcept<typeof ClustererService>({
    classifyCall: async ({ call }: { call?: LlmCall }) => {
      if (call !== undefined) calls.push(call);
      const content = call?.content.case === 'plainContent' ? call.content.value : undefined;
      const last = content?.inputMessages.at(-1)?.parts[0]?.kind;
      const text = last?.case === 'text' ? last.value.text : '';
      if (text.includes('slow')) await sleep(1000);
      const taskId = /task:(\S+)/.exec(text)?.[1] ?? '';
      return { taskId, confidence: taskId === '' ? 0 : 0.9, signature: 'sig' };
    },
  });
  return { impl, calls };
}

async function grpcPeer(setup: (server: GrpcServer) => void) {
  const server = new GrpcServer({ host: '127.0.0.1', port: 0, shutdownTimeoutMs: 200 });
  setup(server);
  const port = await server.start();
  return { server, address: `127.0.0.1:${port}` };
}

/** Receives the gateway's OTLP/HTTP trace exports. */
async function otlpReceiver() {
  const exports: otlpTraceService.ExportTraceServiceRequest[] = [];
  const server = await listen(async (req, res) => {
    exports.push(fromBinary(otlpTraceService.ExportTraceServiceRequestSchema, await bodyOf(req)));
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
  const spans = () =>
    exports.flatMap((e) => e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
  return { ...server, spans };
}

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

function route(init: MessageInitShape<typeof RouteSchema>): Route {
  return create(RouteSchema, {
    stage: ModelStage.PRODUCTION,
    minConfidence: 0.5,
    routeId: `${String(init.tenantId)}-${String(init.servingName)}`,
    ...init,
  });
}

describe('inference gateway', () => {
  let llm: Awaited<ReturnType<typeof fakeOpenAi>>;
  let slm: Awaited<ReturnType<typeof fakeOpenAi>>;
  let otlp: Awaited<ReturnType<typeof otlpReceiver>>;
  let registry: ReturnType<typeof registryDouble>;
  let clusterer: ReturnType<typeof clustererDouble>;
  let peers: GrpcServer[];
  let service: RunningService<typeof settings>;
  let dir: string;
  let base: string;

  const globexProd = () =>
    route({
      tenantId: 'globex',
      taskId: 'prod',
      endpoint: `${slm.url}/v1`,
      servingName: 'globex-prod',
    });

  beforeAll(async () => {
    [llm, slm, otlp] = await Promise.all([fakeOpenAi('llm'), fakeOpenAi('slm'), otlpReceiver()]);
    const endpoint = `${slm.url}/v1`;
    registry = registryDouble([
      route({
        tenantId: 'acme',
        taskId: 'prod',
        endpoint,
        servingName: 'acme-prod',
        fallback: { fallbackToLlm: true, timeout: { nanos: 300_000_000 } },
      }),
      route({ tenantId: 'acme', taskId: 'strict', endpoint, servingName: 'acme-strict' }),
      route({
        tenantId: 'acme',
        taskId: 'shadowed',
        endpoint,
        servingName: 'acme-shadow',
        stage: ModelStage.SHADOW,
        trafficPercent: 100,
      }),
      route({
        tenantId: 'acme',
        taskId: 'canary',
        endpoint,
        servingName: 'acme-canary',
        stage: ModelStage.CANARY,
        trafficPercent: 100,
      }),
      route({ tenantId: 'acme', taskId: 'canary', endpoint, servingName: 'acme-canary-prod' }),
      globexProd(),
    ]);
    clusterer = clustererDouble();
    const registryPeer = await grpcPeer((s) => s.register(ModelRegistryService, registry.impl));
    const clustererPeer = await grpcPeer((s) => s.register(ClustererService, clusterer.impl));
    peers = [registryPeer.server, clustererPeer.server];

    dir = await mkdtemp(join(tmpdir(), 'gateway-'));
    const keysFile = join(dir, 'keys.json');
    await writeFile(
      keysFile,
      JSON.stringify([
        { tenant: 'acme', sha256: sha256('sk-acme') },
        { tenant: 'globex', sha256: sha256('sk-globex') },
      ]),
    );
    const registryTokenFile = join(dir, 'registry-token');
    await writeFile(registryTokenFile, 'registry-reader-token\n');
    service = await startService(definition, {
      UNDERSTUDY_LOG_LEVEL: 'silent',
      UNDERSTUDY_OPS_HOST: '127.0.0.1',
      UNDERSTUDY_OPS_PORT: '0',
      UNDERSTUDY_HTTP_HOST: '127.0.0.1',
      UNDERSTUDY_HTTP_PORT: '0',
      UNDERSTUDY_TENANT_KEYS_FILE: keysFile,
      UNDERSTUDY_REGISTRY_ADDRESS: registryPeer.address,
      UNDERSTUDY_REGISTRY_TOKEN_FILE: registryTokenFile,
      UNDERSTUDY_CLUSTERER_ADDRESS: clustererPeer.address,
      UNDERSTUDY_CLASSIFY_TIMEOUT_MS: '300',
      UNDERSTUDY_LLM_BASE_URL: `${llm.url}/v1`,
      UNDERSTUDY_LLM_API_KEY: 'llm-secret',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    });
    base = `http://127.0.0.1:${service.app.get(GatewayHttpServer).port}`;
    // Routing is live once the table arrived.
    const watch = service.app.get(RoutingWatch);
    for (let i = 0; i < 100 && !watch.state.synced; i++) await sleep(50);
    expect(watch.state.synced).toBe(true);
  });

  afterAll(async () => {
    await service.stop();
    await Promise.all(peers.map((p) => p.shutdown()));
    await Promise.all([llm.close(), slm.close(), otlp.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  const tools = [
    {
      type: 'function',
      function: { name: 'lookup', description: 'find', parameters: { type: 'object' } },
    },
  ];

  function chat(key: string, text: string, extra: Record<string, unknown> = {}, headers = {}) {
    return fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: text },
        ],
        ...extra,
      }),
    });
  }

  it('watches the routing table with the token of its token file', () => {
    expect(new Set(registry.authorizations)).toEqual(new Set(['Bearer registry-reader-token']));
  });

  it('rejects unknown and missing API keys in OpenAI error shape', async () => {
    const before = llm.requests.length + slm.requests.length;
    const response = await chat('sk-wrong', 'hello');
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: {
        message: 'Incorrect API key provided.',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    const anonymous = await fetch(`${base}/v1/models`);
    expect(anonymous.status).toBe(401);
    expect(llm.requests.length + slm.requests.length).toBe(before);
  });

  it('answers unclassified calls from the LLM, passing tools through with its own key', async () => {
    const response = await chat(
      'sk-acme',
      'plain question',
      { tools, tool_choice: 'required' },
      { 'x-request-id': 'req-plain' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-understudy-route')).toBe('llm');
    expect(response.headers.get('x-understudy-task')).toBeNull();
    expect(response.headers.get('x-request-id')).toBe('req-plain');
    expect(await response.json()).toMatchObject({
      choices: [{ message: { content: 'llm answer' } }],
    });

    const seen = llm.requests.at(-1);
    expect(seen?.path).toBe('/v1/chat/completions');
    expect(seen?.headers.authorization).toBe('Bearer llm-secret');
    expect(seen?.body).toMatchObject({ model: 'gpt-4o-mini', tools, tool_choice: 'required' });
    expect(clusterer.calls.at(-1)).toMatchObject({ tenantId: 'acme', requestModel: 'gpt-4o-mini' });
  });

  it('classifies a call as its agent’s when the agent names itself', async () => {
    await chat('sk-acme', 'hello', {}, { 'x-understudy-agent': 'billing-agent' });
    expect(clusterer.calls.at(-1)).toMatchObject({ context: { agentName: 'billing-agent' } });
  });

  it("sends a task's calls to its production SLM under the route's model name", async () => {
    const response = await chat('sk-acme', 'task:prod summarize', { tools, tool_choice: 'auto' });
    expect(response.headers.get('x-understudy-route')).toBe('slm');
    expect(response.headers.get('x-understudy-task')).toBe('prod');
    expect(await response.json()).toMatchObject({ model: 'acme-prod' });
    const seen = slm.requests.at(-1);
    expect(seen?.body).toMatchObject({ model: 'acme-prod', tools, tool_choice: 'auto' });
    expect(seen?.headers.authorization).toBeUndefined();
    expect(seen?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('passes an SSE stream through chunk by chunk', async () => {
    slm.hold();
    const response = await chat('sk-acme', 'task:prod stream it', { stream: true });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('x-understudy-route')).toBe('slm');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    // The upstream is holding its second half back: what arrives now was forwarded at once.
    const first = decoder.decode((await reader.read()).value);
    expect(first).toContain('"content":"slm:"');
    expect(first).not.toContain('done');
    slm.release();
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += decoder.decode(value);
    }
    expect(rest).toContain('"content":"done"');
    expect(rest.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('falls back to the LLM when the SLM errs or times out, if the route allows', async () => {
    const failed = await chat('sk-acme', 'task:prod slm:fail');
    expect(failed.status).toBe(200);
    expect(failed.headers.get('x-understudy-route')).toBe('llm-fallback');
    expect(failed.headers.get('x-understudy-task')).toBe('prod');
    expect(llm.requests.at(-1)?.body).toMatchObject({ model: 'gpt-4o-mini' });

    const started = Date.now();
    const slow = await chat('sk-acme', 'task:prod slm:hang');
    expect(slow.headers.get('x-understudy-route')).toBe('llm-fallback');
    expect(await slow.json()).toMatchObject({ choices: [{ message: { content: 'llm answer' } }] });
    // The route's 300 ms timeout, not the SLM's 1.5 s.
    expect(Date.now() - started).toBeLessThan(1400);
  });

  it("returns the SLM's error when the route does not allow a fallback", async () => {
    const response = await chat('sk-acme', 'task:strict slm:fail');
    expect(response.status).toBe(500);
    expect(response.headers.get('x-understudy-route')).toBe('slm');
    expect(await response.json()).toMatchObject({ error: { message: 'slm broke' } });
  });

  it('treats a call as unassigned when the clusterer misses its deadline', async () => {
    const response = await chat('sk-acme', 'task:prod slow');
    expect(response.headers.get('x-understudy-route')).toBe('llm');
    expect(response.headers.get('x-understudy-task')).toBeNull();
  });

  it('gives canaries their share and mirrors shadows without waiting for them', async () => {
    const canary = await chat('sk-acme', 'task:canary go');
    expect(canary.headers.get('x-understudy-route')).toBe('slm');
    expect(await canary.json()).toMatchObject({ model: 'acme-canary' });

    const shadowed = await chat('sk-acme', 'task:shadowed go', {
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(shadowed.headers.get('x-understudy-route')).toBe('llm');
    expect(await shadowed.text()).toContain('llm:');
    await expect
      .poll(() => slm.requests.find((r) => r.body['model'] === 'acme-shadow'))
      .toBeDefined();
    const copy = slm.requests.find((r) => r.body['model'] === 'acme-shadow');
    expect(copy?.body['stream']).toBeUndefined();
    expect(copy?.body['stream_options']).toBeUndefined();
  });

  it('rejects malformed requests and unknown paths in OpenAI error shape', async () => {
    const post = (body: string) =>
      fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-acme' },
        body,
      });
    const notJson = await post('{');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect((await post('{"model":"m","messages":[]}')).status).toBe(400);
    const missing = await fetch(`${base}/v1/embeddings`, { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it("lists the LLM's models", async () => {
    const response = await fetch(`${base}/v1/models`, {
      headers: { authorization: 'Bearer sk-acme' },
    });
    expect(await response.json()).toEqual({
      object: 'list',
      data: [{ id: 'gpt-4o-mini', object: 'model' }],
    });
    expect(llm.requests.at(-1)?.headers.authorization).toBe('Bearer llm-secret');
  });

  it('applies routing table changes without a restart', async () => {
    registry.push('globex', []);
    await expect
      .poll(async () => (await chat('sk-globex', 'task:prod q')).headers.get('x-understudy-route'))
      .toBe('llm');
    // Other tenants keep their routes.
    expect((await chat('sk-acme', 'task:prod q')).headers.get('x-understudy-route')).toBe('slm');
    registry.push('globex', [globexProd()]);
    await expect
      .poll(async () => (await chat('sk-globex', 'task:prod q')).headers.get('x-understudy-route'))
      .toBe('slm');
  });

  it('exports GenAI spans for each model call, continuing the caller trace', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await chat(
      'sk-acme',
      'task:prod traced',
      {},
      { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    );
    const streamed = await chat('sk-acme', 'task:prod streamed', { stream: true });
    await streamed.text();
    await service.stop(); // flushes the batch of spans

    const attributes = (span: (typeof spans)[number]) =>
      Object.fromEntries(span.attributes.map((a) => [a.key, a.value?.value.value])) as Record<
        string,
        unknown
      >;
    const spans = otlp.spans();
    const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
    const traced = spans.filter((s) => hex(s.traceId) === traceId);
    const server = traced.find((s) => s.name === 'POST /v1/chat/completions');
    const model = traced.find((s) => s.name === 'chat gpt-4o-mini');
    expect(server).toBeDefined();
    expect(model && hex(model.parentSpanId)).toBe(server && hex(server.spanId));
    expect(model && attributes(model)).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'understudy',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'acme-prod',
      'gen_ai.response.id': 'slm-1',
      'gen_ai.usage.input_tokens': 5n,
      'gen_ai.usage.output_tokens': 2n,
      'understudy.route': 'slm',
      'understudy.tenant.id': 'acme',
      'understudy.task.id': 'prod',
    });
    const input =
      model && (JSON.parse(String(attributes(model)['gen_ai.input.messages'])) as unknown);
    expect(input).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
      { role: 'user', parts: [{ type: 'text', content: 'task:prod traced' }] },
    ]);

    const streamedSpan = spans.find((s) =>
      String(attributes(s)['gen_ai.input.messages']).includes('task:prod streamed'),
    );
    const output = streamedSpan && attributes(streamedSpan);
    expect(output && JSON.parse(String(output['gen_ai.output.messages']))).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'slm:done' }],
        finish_reason: 'stop',
      },
    ]);
    expect(output?.['gen_ai.usage.output_tokens']).toBe(2n);
  });
});
