import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { Logger } from '@understudy/telemetry';
import { expect } from 'vitest';
import type { RawServiceImpl, ServiceImpl } from '../service-impl.js';
import { GrpcServer, type GrpcServerOptions } from '../server.js';
import { Echo, type EchoService } from './echo.js';

/** The reference behaviour of Echo; tests override single methods. */
export const echoImpl: ServiceImpl<EchoService> = {
  say: (request) => ({ value: request.value }),
  repeat: async function* (request) {
    for (let i = 1; i <= 3; i++) {
      await Promise.resolve();
      yield { value: `${request.value} ${i}` };
    }
  },
  join: async (requests) => {
    const parts: string[] = [];
    for await (const request of requests) parts.push(request.value);
    return { value: parts.join(' ') };
  },
  chat: async function* (requests) {
    for await (const request of requests) yield { value: request.value.toUpperCase() };
  },
  last: () => ({ note: 'now' }),
};

export const encodeString = (value: string): Uint8Array =>
  toBinary(StringValueSchema, create(StringValueSchema, { value }));

/** Decodes as a raw service would, refusing what does not decode instead of failing INTERNAL. */
export function decodeString(bytes: Uint8Array): string {
  try {
    return fromBinary(StringValueSchema, bytes).value;
  } catch (error) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'request is not a StringValue', {
      cause: error,
    });
  }
}

const tick = Echo.method.last.output;

/** `echoImpl` on the bytes on the wire: each handler decodes and encodes itself. */
export const rawEchoImpl: RawServiceImpl<EchoService> = {
  say: (request) => encodeString(decodeString(request)),
  repeat: async function* (request) {
    for (let i = 1; i <= 3; i++) {
      await Promise.resolve();
      yield encodeString(`${decodeString(request)} ${i}`);
    }
  },
  join: async (requests) => {
    const parts: string[] = [];
    for await (const request of requests) parts.push(decodeString(request));
    return encodeString(parts.join(' '));
  },
  chat: async function* (requests) {
    for await (const request of requests) yield encodeString(decodeString(request).toUpperCase());
  },
  last: () => toBinary(tick, create(tick, { note: 'now' })),
};

/** The UnderstudyError a call failed with; fails the test if it succeeded or failed otherwise. */
export async function rejection(promise: Promise<unknown>): Promise<UnderstudyError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnderstudyError);
  return error as UnderstudyError;
}

/** A server on loopback with a system-picked port, and the address a client dials. */
export async function startServer(
  setup: (server: GrpcServer) => void,
  options: GrpcServerOptions = {},
): Promise<{ server: GrpcServer; address: string }> {
  const server = new GrpcServer({
    host: '127.0.0.1',
    port: 0,
    shutdownTimeoutMs: 1000,
    ...options,
  });
  setup(server);
  const port = await server.start();
  return { server, address: `127.0.0.1:${port}` };
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: object;
  readonly message: string | undefined;
}

/** A Logger that keeps what it is told, to assert on what reaches the logs. */
export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at =
    (level: LogLine['level']) =>
    (fields: object, message?: string): void => {
      lines.push({ level, fields, message });
    };
  const logger = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}
