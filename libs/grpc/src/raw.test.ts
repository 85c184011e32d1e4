import { fromBinary, type DescService } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import {
  credentials,
  makeGenericClientConstructor,
  status,
  type Client as GrpcClient,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  Health,
  HealthCheckResponse_ServingStatus as Serving,
  ModelRegistryService,
  googleRpc,
  googleRpcDetails,
  reflectionV1,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { rawServiceDefinition } from './adapter.js';
import { createClient, type Client } from './client.js';
import { GrpcServer, type GrpcServerOptions } from './server.js';
import type { CallContext, RawServiceImpl, ServiceImpl } from './service-impl.js';
import { statusDetailsTrailer } from './status.js';
import { Echo, type EchoService } from './testing/echo.js';
import {
  decodeString as decode,
  encodeString as encode,
  rawEchoImpl,
  recordingLogger,
  rejection,
  startServer,
} from './testing/harness.js';

/** Every method answers UNIMPLEMENTED: a typed service to serve beside the raw one. */
function unimplemented<S extends DescService>(service: S): ServiceImpl<S> {
  const fail = (): never => {
    throw new UnderstudyError(ErrorCode.Unimplemented, 'not in this test');
  };
  return Object.fromEntries(
    service.methods.map((m) => [m.localName, fail]),
  ) as unknown as ServiceImpl<S>;
}

type RawSay = GrpcClient & {
  say(request: Uint8Array, callback: (error: ServiceError | null, response?: Buffer) => void): void;
};

let server: GrpcServer | undefined;
let address = '';
const clients: { close(): void }[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server?.shutdown();
  server = undefined;
});

async function serveRaw(
  impl: Partial<RawServiceImpl<EchoService>> = {},
  options: GrpcServerOptions = {},
  setup: (s: GrpcServer) => void = () => undefined,
): Promise<Client<EchoService>> {
  const started = await startServer((s) => {
    s.registerRaw(Echo, { ...rawEchoImpl, ...impl });
    setup(s);
  }, options);
  server = started.server;
  address = started.address;
  return client(Echo);
}

function client<S extends DescService>(service: S, metadata: Record<string, string> = {}) {
  const made = createClient(service, address, { metadata });
  clients.push(made);
  return made;
}

/** Sends `bytes` as Echo/Say whatever they are; resolves with the answer or the failure. */
function sayRaw(bytes: Uint8Array): Promise<{ response?: Buffer; error?: ServiceError }> {
  const Constructor = makeGenericClientConstructor(rawServiceDefinition(Echo), 'Echo');
  const raw = new Constructor(address, credentials.createInsecure()) as unknown as RawSay;
  clients.push(raw);
  return new Promise((resolve) => {
    raw.say(bytes, (error, response) => {
      resolve(error ? { error } : { ...(response && { response }) });
    });
  });
}

/** The google.rpc.Status a failed call carries, with its retry delay if any. */
function richStatus(error: UnderstudyError) {
  const [raw] = (error.cause as ServiceError).metadata.get(statusDetailsTrailer);
  if (!(raw instanceof Buffer)) return undefined;
  const rich = fromBinary(googleRpc.StatusSchema, raw);
  const retry = rich.details.map((any) => anyUnpack(any, googleRpcDetails.RetryInfoSchema));
  return {
    code: rich.code,
    message: rich.message,
    retryDelays: retry.map((r) => r?.retryDelay && [r.retryDelay.seconds, r.retryDelay.nanos]),
  };
}

describe('GrpcServer.registerRaw', () => {
  it('serves the four kinds of RPC to a typed client, handing over the bytes on the wire', async () => {
    const received: unknown[] = [];
    const echo = await serveRaw({
      say: (request, ctx) => {
        received.push(request);
        return rawEchoImpl.say(request, ctx);
      },
    });

    expect((await echo.say({ value: 'hi' })).value).toBe('hi');
    expect(received).toHaveLength(1);
    expect(received[0]).toBeInstanceOf(Uint8Array);
    expect(new Uint8Array(received[0] as Uint8Array)).toEqual(encode('hi'));

    const repeated: string[] = [];
    for await (const r of echo.repeat({ value: 'ho' })) repeated.push(r.value);
    expect(repeated).toEqual(['ho 1', 'ho 2', 'ho 3']);

    const words = [{ value: 'a' }, { value: 'b' }, { value: 'c' }];
    expect((await echo.join(words)).value).toBe('a b c');

    const chatted: string[] = [];
    for await (const r of echo.chat(words)) chatted.push(r.value);
    expect(chatted).toEqual(['A', 'B', 'C']);

    expect(await echo.last({})).toMatchObject({ note: 'now' });
  });

  it('hands over bytes that do not decode, for the service to answer', async () => {
    await serveRaw();
    const { error } = await sayRaw(new Uint8Array([0x0a, 0xff, 0xff]));
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toBe('request is not a StringValue');

    const { response } = await sayRaw(encode('as is'));
    expect(decode(response ?? new Uint8Array())).toBe('as is');
  });

  it('maps failures as for typed services, retry delay and hidden internals included', async () => {
    const logger = recordingLogger();
    const echo = await serveRaw(
      {
        say: (request) => {
          const value = decode(request);
          if (value === 'busy') throw new UnderstudyError(ErrorCode.Unavailable, 'busy');
          if (value === 'bug') throw new TypeError('cannot read secret of undefined');
          throw new UnderstudyError(ErrorCode.NotFound, 'no model m-1', {
            details: { modelId: 'm-1' },
          });
        },
      },
      {
        logger,
        retryDelay: (failure) => (failure.code === ErrorCode.Unavailable ? 2.5 : undefined),
      },
    );

    const missing = await rejection(echo.say({ value: 'm-1' }));
    expect(missing).toMatchObject({
      code: ErrorCode.NotFound,
      message: 'no model m-1',
      details: { modelId: 'm-1' },
      retryable: false,
    });
    expect(richStatus(missing)).toEqual({
      code: status.NOT_FOUND,
      message: 'no model m-1',
      retryDelays: [],
    });

    const busy = await rejection(echo.say({ value: 'busy' }));
    expect(busy).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });
    expect(richStatus(busy)?.retryDelays).toEqual([[2n, 500_000_000]]);

    const bug = await rejection(echo.say({ value: 'bug' }));
    expect(bug).toMatchObject({ code: ErrorCode.Internal, message: 'internal error' });
    expect(richStatus(bug)).toEqual({
      code: status.INTERNAL,
      message: 'internal error',
      retryDelays: [],
    });
    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.message)).toEqual(['cannot read secret of undefined']);
    expect(errors[0]?.fields).toMatchObject({ rpc: 'understudy.grpc.testing.v1.Echo/Say' });
  });

  it('lists the raw service in health and reflection, beside a typed one', async () => {
    await serveRaw({}, {}, (s) =>
      s.register(ModelRegistryService, unimplemented(ModelRegistryService)),
    );
    const health = client(Health);
    expect((await health.check({ service: Echo.typeName })).status).toBe(Serving.SERVING);
    expect((await health.check({ service: ModelRegistryService.typeName })).status).toBe(
      Serving.SERVING,
    );

    const reflection = client(reflectionV1.ServerReflection);
    const answers = [];
    for await (const answer of reflection.serverReflectionInfo([
      { messageRequest: { case: 'listServices', value: '' } },
      {
        messageRequest: {
          case: 'fileContainingSymbol',
          value: 'understudy.grpc.testing.v1.Echo.Say',
        },
      },
    ])) {
      answers.push(answer.messageResponse);
    }
    const [list, file] = answers;
    expect(list?.case === 'listServicesResponse' && list.value.service.map((s) => s.name)).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'understudy.grpc.testing.v1.Echo',
      'understudy.v1.ModelRegistryService',
    ]);
    expect(file?.case).toBe('fileDescriptorResponse');

    const typed = await rejection(
      client(ModelRegistryService).getModelVersion({ modelVersionId: 'mv-1' }),
    );
    expect(typed.code).toBe(ErrorCode.Unimplemented);
  });

  it('authenticates raw calls and hands the principal over', async () => {
    let seen: CallContext | undefined;
    await serveRaw(
      {
        say: (request, ctx) => {
          seen = ctx;
          return request;
        },
      },
      {
        authenticate: (metadata) => {
          if (metadata.get('x-understudy-key')[0] !== 'k-1') {
            throw new UnderstudyError(ErrorCode.Unauthenticated, 'missing or bad key');
          }
          return { subject: 'svc-a', tenantId: 't-1' };
        },
      },
    );
    const anonymous = await rejection(client(Echo).say({ value: 'x' }));
    expect(anonymous).toMatchObject({ code: ErrorCode.Unauthenticated });
    expect(seen).toBeUndefined();

    expect((await client(Echo, { 'x-understudy-key': 'k-1' }).say({ value: 'ok' })).value).toBe(
      'ok',
    );
    expect(seen?.principal).toEqual({ subject: 'svc-a', tenantId: 't-1' });
    expect(seen?.method.name).toBe('Say');
  });

  it('checks raw services as it checks typed ones', async () => {
    const { say, repeat, join, chat } = rawEchoImpl;
    const incomplete = { say, repeat, join, chat } as unknown as RawServiceImpl<EchoService>;
    expect(() => new GrpcServer().registerRaw(Echo, incomplete)).toThrow(/no handler for Last/);
    const { health } = new GrpcServer();
    const healthImpl = health.impl as unknown as RawServiceImpl<typeof Health>;
    expect(() => new GrpcServer().registerRaw(Health, healthImpl)).toThrow(/served by GrpcServer/);
    await serveRaw();
    expect(() => server?.registerRaw(Echo, rawEchoImpl)).toThrow(/after start/);
  });
});
