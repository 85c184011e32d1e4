import { create } from '@bufbuild/protobuf';
import { StringValueSchema, type StringValue } from '@bufbuild/protobuf/wkt';
import { Health, HealthCheckResponse_ServingStatus as Status } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from './client.js';
import { GrpcServer } from './server.js';
import type { Authorize } from './service-impl.js';
import { Echo } from './testing/echo.js';
import { echoImpl, rawEchoImpl, rejection, startServer } from './testing/harness.js';

let server: GrpcServer | undefined;
const clients: { close(): void }[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server?.shutdown();
  server = undefined;
});

/**
 * Lets in only values that start with the caller's subject; an empty value becomes the subject
 * itself, as a server fills in what a caller implies.
 */
const ownValuesOnly: Authorize = (request, ctx) => {
  const { value } = request as StringValue;
  const subject = ctx.principal?.subject ?? '';
  if (value === '') return create(StringValueSchema, { value: subject });
  if (!value.startsWith(subject)) {
    throw new UnderstudyError(ErrorCode.PermissionDenied, `${value} is not yours`);
  }
  return request;
};

async function serveEcho(authorize: Authorize, seen: string[] = []) {
  const started = await startServer(
    (s) =>
      s.register(Echo, {
        ...echoImpl,
        say: (request) => {
          seen.push(request.value);
          return { value: request.value };
        },
      }),
    {
      authenticate: (metadata) => ({ subject: String(metadata.get('x-subject')[0] ?? '') }),
      authorize,
    },
  );
  server = started.server;
  const client = createClient(Echo, started.address, { metadata: { 'x-subject': 'alice' } });
  clients.push(client);
  return { client, address: started.address };
}

describe('authorize', () => {
  it('sees the decoded request and the principal, and may fill in the request', async () => {
    const seen: string[] = [];
    const { client } = await serveEcho(ownValuesOnly, seen);
    expect((await client.say({ value: 'alice/1' })).value).toBe('alice/1');
    expect((await client.say({ value: '' })).value).toBe('alice');
    expect(await rejection(client.say({ value: 'bob/1' }))).toMatchObject({
      code: ErrorCode.PermissionDenied,
      message: 'bob/1 is not yours',
    });
    // The refused request never reached the handler.
    expect(seen).toEqual(['alice/1', 'alice']);
  });

  it('runs on the request of a server stream and on each message of client streams', async () => {
    const { client } = await serveEcho(ownValuesOnly);
    const repeated: string[] = [];
    for await (const r of client.repeat({ value: 'alice' })) repeated.push(r.value);
    expect(repeated).toEqual(['alice 1', 'alice 2', 'alice 3']);
    expect(await rejection(collect(client.repeat({ value: 'bob' })))).toMatchObject({
      code: ErrorCode.PermissionDenied,
    });

    expect((await client.join([{ value: 'alice-a' }, { value: '' }])).value).toBe('alice-a alice');
    expect(await rejection(client.join([{ value: 'alice-a' }, { value: 'bob-b' }]))).toMatchObject({
      code: ErrorCode.PermissionDenied,
      message: 'bob-b is not yours',
    });
    expect(
      await rejection(collect(client.chat([{ value: 'alice' }, { value: 'mallory' }]))),
    ).toMatchObject({ code: ErrorCode.PermissionDenied });
  });

  it('fails closed when it answers a message of another type', async () => {
    const wrongType: Authorize = () => create(Echo.method.last.output, {});
    const { client } = await serveEcho(wrongType);
    expect(await rejection(client.say({ value: 'alice' }))).toMatchObject({
      code: ErrorCode.Internal,
    });
  });

  it('leaves health and reflection alone', async () => {
    const refuseAll: Authorize = () => {
      throw new UnderstudyError(ErrorCode.PermissionDenied, 'no');
    };
    const { address } = await serveEcho(refuseAll);
    const health = createClient(Health, address);
    clients.push(health);
    expect((await health.check({ service: '' })).status).toBe(Status.SERVING);
  });

  it('cannot guard raw services, whose requests it does not see', () => {
    const guarded = new GrpcServer({ authorize: ownValuesOnly });
    expect(() => guarded.registerRaw(Echo, rawEchoImpl)).toThrow(
      expect.objectContaining({ code: ErrorCode.FailedPrecondition }),
    );
  });
});

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of stream) all.push(item);
  return all;
}
