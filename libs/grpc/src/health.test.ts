import { Health, HealthCheckResponse_ServingStatus as Status } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from './client.js';
import type { GrpcServer } from './server.js';
import { Echo } from './testing/echo.js';
import { echoImpl, startServer } from './testing/harness.js';

const echoName = 'understudy.grpc.testing.v1.Echo';

let server: GrpcServer | undefined;
let health: Client<typeof Health> | undefined;

afterEach(async () => {
  health?.close();
  await server?.shutdown();
  health = undefined;
  server = undefined;
});

async function serve(
  setup: (s: GrpcServer) => void = () => undefined,
): Promise<Client<typeof Health>> {
  const started = await startServer((s) => {
    s.register(Echo, echoImpl);
    setup(s);
  });
  server = started.server;
  health = createClient(Health, started.address);
  return health;
}

/** Reads a Watch stream in the background; `next()` waits for the next status. */
function watch(client: Client<typeof Health>, service: string, signal: AbortSignal) {
  const statuses = client.watch({ service }, { signal, timeoutMs: Infinity });
  const iterator = statuses[Symbol.asyncIterator]();
  return {
    next: async (): Promise<Status | 'ended'> => {
      const result = await iterator.next();
      return result.done ? 'ended' : result.value.status;
    },
  };
}

describe('grpc.health.v1.Health', () => {
  it('answers Check for the server and each registered service', async () => {
    const client = await serve();
    expect((await client.check({ service: '' })).status).toBe(Status.SERVING);
    expect((await client.check({ service: echoName })).status).toBe(Status.SERVING);

    server?.health.set(echoName, 'NOT_SERVING');
    expect((await client.check({ service: echoName })).status).toBe(Status.NOT_SERVING);
    expect((await client.check({ service: '' })).status).toBe(Status.SERVING);
  });

  it('answers NOT_FOUND for an unknown service', async () => {
    const client = await serve();
    const error: unknown = await client.check({ service: 'nope.v1.Nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnderstudyError);
    expect((error as UnderstudyError).code).toBe(ErrorCode.NotFound);
  });

  it('keeps a status declared before start', async () => {
    const client = await serve((s) => {
      s.health.set(echoName, 'NOT_SERVING');
    });
    expect((await client.check({ service: echoName })).status).toBe(Status.NOT_SERVING);
  });

  it('streams changes to Watch, starting with the current status', async () => {
    const client = await serve();
    const abort = new AbortController();
    const stream = watch(client, echoName, abort.signal);
    expect(await stream.next()).toBe(Status.SERVING);
    server?.health.set(echoName, 'NOT_SERVING');
    expect(await stream.next()).toBe(Status.NOT_SERVING);
    server?.health.set(echoName, 'SERVING');
    expect(await stream.next()).toBe(Status.SERVING);
    abort.abort();
  });

  it('watches an unknown service as SERVICE_UNKNOWN until it appears', async () => {
    const client = await serve();
    const abort = new AbortController();
    const stream = watch(client, 'later.v1.Later', abort.signal);
    expect(await stream.next()).toBe(Status.SERVICE_UNKNOWN);
    server?.health.set('later.v1.Later', 'SERVING');
    expect(await stream.next()).toBe(Status.SERVING);
    abort.abort();
  });

  it('turns NOT_SERVING on shutdown and ends Watch streams', async () => {
    const client = await serve();
    const stream = watch(client, '', new AbortController().signal);
    expect(await stream.next()).toBe(Status.SERVING);
    const stopping = server?.shutdown();
    expect(await stream.next()).toBe(Status.NOT_SERVING);
    expect(await stream.next()).toBe('ended');
    await stopping;
    server?.health.set('', 'SERVING');
    expect(server?.health.get('')).toBe('NOT_SERVING');
  });
});
