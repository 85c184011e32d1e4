import { once } from 'node:events';
import { connect, constants as h2 } from 'node:http2';
import { status, type ServiceError } from '@grpc/grpc-js';
import { Health } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { methodPath } from './adapter.js';
import { createClient, type Client } from './client.js';
import { GrpcServer } from './server.js';
import type { CallContext, ServiceImpl } from './service-impl.js';
import { Echo, type EchoService } from './testing/echo.js';
import { echoImpl, recordingLogger, rejection, startServer } from './testing/harness.js';

let server: GrpcServer | undefined;
let client: Client<EchoService> | undefined;

afterEach(async () => {
  client?.close();
  await server?.shutdown();
  client = undefined;
  server = undefined;
});

async function serveEcho(
  impl: Partial<ServiceImpl<EchoService>> = {},
  options: Parameters<typeof startServer>[1] = {},
): Promise<Client<EchoService>> {
  const started = await startServer((s) => s.register(Echo, { ...echoImpl, ...impl }), options);
  server = started.server;
  client = createClient(Echo, started.address);
  return client;
}

/** Resolves with the handler's context once a call has reached it. */
function arrival(): { reached: Promise<CallContext>; arrive: (ctx: CallContext) => void } {
  let arrive: (ctx: CallContext) => void = () => undefined;
  const reached = new Promise<CallContext>((resolve) => {
    arrive = resolve;
  });
  return { reached, arrive };
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => {
      reject(signal.reason as Error);
    });
  });
}

describe('GrpcServer and createClient', () => {
  it('serves the four kinds of RPC', async () => {
    const echo = await serveEcho();

    expect((await echo.say({ value: 'hi' })).value).toBe('hi');

    const repeated: string[] = [];
    for await (const r of echo.repeat({ value: 'ho' })) repeated.push(r.value);
    expect(repeated).toEqual(['ho 1', 'ho 2', 'ho 3']);

    const words = [{ value: 'a' }, { value: 'b' }, { value: 'c' }];
    expect((await echo.join(words)).value).toBe('a b c');

    const chatted: string[] = [];
    for await (const r of echo.chat(words)) chatted.push(r.value);
    expect(chatted).toEqual(['A', 'B', 'C']);
  });

  it('exposes the bound port and refuses late registration', async () => {
    await serveEcho();
    expect(server?.port).toBeGreaterThan(0);
    expect(() => server?.register(Echo, echoImpl)).toThrow(/after start/);
  });

  it('rejects an implementation that lacks a method', () => {
    const { say, repeat, join, chat } = echoImpl;
    const incomplete = { say, repeat, join, chat } as unknown as ServiceImpl<EchoService>;
    expect(() => new GrpcServer().register(Echo, incomplete)).toThrow(/no handler for Last/);
  });

  it('hands the deadline, metadata and peer to handlers', async () => {
    let seen: CallContext | undefined;
    const echo = await serveEcho({
      say: (request, ctx) => {
        seen = ctx;
        return { value: request.value };
      },
    });
    const before = Date.now();
    await echo.say({ value: 'x' }, { timeoutMs: 5000, metadata: { 'x-request-id': 'r-1' } });
    expect(seen?.metadata.get('x-request-id')).toEqual(['r-1']);
    expect(seen?.deadline?.getTime()).toBeGreaterThanOrEqual(before + 4000);
    expect(seen?.peer).toMatch(/^127\.0\.0\.1:/);
    expect(seen?.method.name).toBe('Say');
    expect(seen?.principal).toBeUndefined();

    // Far-off deadlines must not overflow Node timers into an instant expiry.
    await echo.say({ value: 'y' }, { timeoutMs: 40 * 24 * 3600 * 1000 });
    expect(seen?.signal.aborted).toBe(false);
    expect(seen?.deadline?.getTime()).toBeGreaterThan(Date.now() + 20 * 24 * 3600 * 1000);
  });

  it('refuses to register a service it serves itself', () => {
    const health = new GrpcServer().health;
    expect(() => new GrpcServer().register(Health, health.impl)).toThrow(/served by GrpcServer/);
  });
});

describe('error mapping', () => {
  it('turns a coded error into its status and back, details and retry class included', async () => {
    const echo = await serveEcho({
      say: () => {
        throw new UnderstudyError(ErrorCode.NotFound, 'no model m-1', {
          details: { modelId: 'm-1' },
        });
      },
    });
    const error = await rejection(echo.say({ value: 'x' }));
    expect(error.code).toBe(ErrorCode.NotFound);
    expect(error.message).toBe('no model m-1');
    expect(error.details).toEqual({ modelId: 'm-1' });
    expect(error.retryable).toBe(false);
    expect((error.cause as ServiceError).code).toBe(status.NOT_FOUND);
  });

  it('keeps codes that share a gRPC status and retry overrides apart', async () => {
    const echo = await serveEcho({
      say: (request) => {
        throw request.value === 'big'
          ? new UnderstudyError(ErrorCode.PayloadTooLarge, 'too large')
          : new UnderstudyError(ErrorCode.FailedPrecondition, 'not yet', { retryable: true });
      },
    });
    const big = await rejection(echo.say({ value: 'big' }));
    expect(big.code).toBe(ErrorCode.PayloadTooLarge);
    expect((big.cause as ServiceError).code).toBe(status.RESOURCE_EXHAUSTED);
    const later = await rejection(echo.say({ value: 'later' }));
    expect(later.code).toBe(ErrorCode.FailedPrecondition);
    expect(later.retryable).toBe(true);
  });

  it('hides internal failures from the caller and logs them', async () => {
    const logger = recordingLogger();
    const echo = await serveEcho(
      {
        say: () => {
          throw new TypeError('cannot read secret of undefined');
        },
        repeat: async function* () {
          yield { value: 'one' };
          await Promise.reject(new UnderstudyError(ErrorCode.Internal, 'db password rejected'));
        },
      },
      { logger },
    );
    const error = await rejection(echo.say({ value: 'x' }));
    expect(error.code).toBe(ErrorCode.Internal);
    expect(error.message).toBe('internal error');
    expect(error.details).toEqual({});

    const received: string[] = [];
    const streamed = await rejection(
      (async () => {
        for await (const r of echo.repeat({ value: 'x' })) received.push(r.value);
      })(),
    );
    expect(received).toEqual(['one']);
    expect(streamed).toMatchObject({ code: ErrorCode.Internal, message: 'internal error' });

    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.message)).toEqual([
      'cannot read secret of undefined',
      'db password rejected',
    ]);
    expect(errors[0]?.fields).toMatchObject({ rpc: 'understudy.grpc.testing.v1.Echo/Say' });
  });

  it('maps statuses that carry no Understudy trailer by their gRPC code', async () => {
    const started = await startServer(() => undefined);
    server = started.server;
    client = createClient(Echo, started.address);
    const error = await rejection(client.say({ value: 'x' }));
    expect(error.code).toBe(ErrorCode.Unimplemented);
  });

  it('reports an unreachable server as retryable UNAVAILABLE', async () => {
    const started = await startServer(() => undefined);
    await started.server.shutdown();
    client = createClient(Echo, started.address);
    const error = await rejection(client.say({ value: 'x' }));
    expect(error.code).toBe(ErrorCode.Unavailable);
    expect(error.retryable).toBe(true);
  });
});

describe('deadlines and cancellation', () => {
  it('fails with DEADLINE_EXCEEDED and aborts the handler', async () => {
    const { reached, arrive } = arrival();
    const echo = await serveEcho({
      say: (_, ctx) => {
        arrive(ctx);
        return untilAborted(ctx.signal);
      },
    });
    const error = await rejection(echo.say({ value: 'slow' }, { timeoutMs: 150 }));
    expect(error.code).toBe(ErrorCode.DeadlineExceeded);
    expect(error.retryable).toBe(true);
    const ctx = await reached;
    await expect.poll(() => ctx.signal.aborted).toBe(true);
    expect((ctx.signal.reason as UnderstudyError).code).toBe(ErrorCode.DeadlineExceeded);
  });

  it('uses the client default deadline unless the call sets one', async () => {
    const started = await startServer((s) =>
      s.register(Echo, { ...echoImpl, say: (_, ctx) => untilAborted(ctx.signal) }),
    );
    server = started.server;
    client = createClient(Echo, started.address, { timeoutMs: 100 });
    const startedAt = Date.now();
    const error = await rejection(client.say({ value: 'x' }));
    expect(error.code).toBe(ErrorCode.DeadlineExceeded);
    expect(Date.now() - startedAt).toBeLessThan(2000);
  });

  it('cancels a unary call from an AbortSignal and aborts the handler', async () => {
    const { reached, arrive } = arrival();
    const echo = await serveEcho({
      say: (_, ctx) => {
        arrive(ctx);
        return untilAborted(ctx.signal);
      },
    });
    const abort = new AbortController();
    const pending = rejection(echo.say({ value: 'x' }, { signal: abort.signal }));
    const ctx = await reached;
    abort.abort();
    expect((await pending).code).toBe(ErrorCode.Cancelled);
    await expect.poll(() => ctx.signal.aborted).toBe(true);
    expect((ctx.signal.reason as UnderstudyError).code).toBe(ErrorCode.Cancelled);
  });

  it('rejects bad metadata before sending anything', async () => {
    const echo = await serveEcho();
    const error = await rejection(echo.say({ value: 'x' }, { metadata: { 'Bad Key!': 'v' } }));
    expect(error.code).toBe(ErrorCode.InvalidArgument);
  });

  it('refuses to start a call whose signal is already aborted', async () => {
    const echo = await serveEcho();
    const error = await rejection(echo.say({ value: 'x' }, { signal: AbortSignal.abort() }));
    expect(error.code).toBe(ErrorCode.Cancelled);
  });

  it('stops a server stream when the consumer stops reading', async () => {
    let finished = false;
    const { reached, arrive } = arrival();
    const echo = await serveEcho({
      repeat: async function* (request, ctx) {
        arrive(ctx);
        try {
          for (let i = 0; !ctx.signal.aborted; i++) {
            yield { value: `${request.value} ${i}` };
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        } finally {
          finished = true;
        }
      },
    });
    for await (const r of echo.repeat({ value: 'tick' }, { timeoutMs: Infinity })) {
      if (r.value === 'tick 2') break;
    }
    const ctx = await reached;
    await expect.poll(() => ctx.signal.aborted).toBe(true);
    await expect.poll(() => finished).toBe(true);
  });

  it('cancels a server stream from an AbortSignal', async () => {
    const echo = await serveEcho({
      repeat: async function* (_, ctx) {
        yield { value: 'first' };
        await untilAborted(ctx.signal);
      },
    });
    const abort = new AbortController();
    const received: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const r of echo.repeat({ value: 'x' }, { signal: abort.signal })) {
          received.push(r.value);
          abort.abort();
        }
      })(),
    );
    expect(received).toEqual(['first']);
    expect(error.code).toBe(ErrorCode.Cancelled);
  });

  it('cancels a client stream whose request source throws, reporting the source error', async () => {
    const { reached, arrive } = arrival();
    const echo = await serveEcho({
      join: async (requests, ctx) => {
        arrive(ctx);
        return echoImpl.join(requests, ctx);
      },
    });
    async function* broken(): AsyncGenerator<{ value: string }> {
      yield { value: 'a' };
      await reached;
      throw new UnderstudyError(ErrorCode.DataLoss, 'source broke');
    }
    const error = await rejection(echo.join(broken()));
    expect(error).toMatchObject({ code: ErrorCode.DataLoss, message: 'source broke' });
  });

  it('answers the status of a bidi handler that fails before reading every request', async () => {
    const echo = await serveEcho({
      chat: async function* (requests) {
        for await (const request of requests) {
          if (request.value === 'stop') {
            throw new UnderstudyError(ErrorCode.FailedPrecondition, 'told to stop');
          }
          yield { value: request.value };
        }
      },
    });
    const received: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const r of echo.chat([{ value: 'a' }, { value: 'stop' }, { value: 'b' }])) {
          received.push(r.value);
        }
      })(),
    );
    expect(received).toEqual(['a']);
    expect(error).toMatchObject({ code: ErrorCode.FailedPrecondition, message: 'told to stop' });
  });
});

describe('authentication', () => {
  const authenticate = (metadata: {
    get(key: string): unknown[];
  }): Promise<{ subject: string }> => {
    const [key] = metadata.get('x-understudy-key');
    if (key !== 'k-1') {
      return Promise.reject(new UnderstudyError(ErrorCode.Unauthenticated, 'missing or bad key'));
    }
    return Promise.resolve({ subject: 'svc-a' });
  };

  it('gives handlers the principal and rejects callers without credentials', async () => {
    let principal: CallContext['principal'];
    const started = await startServer(
      (s) =>
        s.register(Echo, {
          ...echoImpl,
          say: (request, ctx) => {
            principal = ctx.principal;
            return { value: request.value };
          },
        }),
      { authenticate },
    );
    server = started.server;
    const anonymous = createClient(Echo, started.address);
    const error = await rejection(anonymous.say({ value: 'x' }));
    expect(error).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'missing or bad key' });
    anonymous.close();

    client = createClient(Echo, started.address, { metadata: { 'x-understudy-key': 'k-1' } });
    expect((await client.say({ value: 'ok' })).value).toBe('ok');
    expect(principal).toEqual({ subject: 'svc-a' });
  });

  it('refuses a caller from its metadata alone, before reading its request', async () => {
    let handled = false;
    const started = await startServer(
      (s) =>
        s.register(Echo, {
          ...echoImpl,
          say: (request) => {
            handled = true;
            return { value: request.value };
          },
        }),
      { authenticate },
    );
    server = started.server;
    const session = connect(`http://${started.address}`);
    try {
      const stream = session.request({
        [h2.HTTP2_HEADER_METHOD]: 'POST',
        [h2.HTTP2_HEADER_PATH]: methodPath(Echo.method.say),
        [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        te: 'trailers',
      });
      // A frame announcing a 1 MiB message, of which 1 KiB is sent and never the rest: a server
      // that read the request before authenticating would wait for it.
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(1024 * 1024, 1);
      stream.write(Buffer.concat([prefix, Buffer.alloc(1024)]));
      const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
      expect(headers['grpc-status']).toBe(String(status.UNAUTHENTICATED));
      stream.close();
    } finally {
      session.close();
    }
    expect(handled).toBe(false);
  });
});

describe('shutdown', () => {
  it('lets calls in flight finish', async () => {
    const { reached, arrive } = arrival();
    let release: () => void = () => undefined;
    const echo = await serveEcho({
      say: async (request, ctx) => {
        arrive(ctx);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return { value: request.value };
      },
    });
    const pending = echo.say({ value: 'last' });
    await reached;
    const stopping = server?.shutdown();
    expect(server?.health.get('')).toBe('NOT_SERVING');
    release();
    expect((await pending).value).toBe('last');
    await stopping;
  });

  it('cancels calls still running after the shutdown timeout', async () => {
    const { reached, arrive } = arrival();
    const echo = await serveEcho(
      {
        say: (_, ctx) => {
          arrive(ctx);
          return untilAborted(ctx.signal);
        },
      },
      { shutdownTimeoutMs: 100 },
    );
    const pending = rejection(echo.say({ value: 'stuck' }));
    const ctx = await reached;
    await server?.shutdown();
    await expect.poll(() => ctx.signal.aborted).toBe(true);
    expect((await pending).code).toBe(ErrorCode.Cancelled);
  });
});
