import { once } from 'node:events';
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescMethodBiDiStreaming,
  type DescMethodClientStreaming,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type DescService,
  type Message,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import {
  Client as GrpcClient,
  Metadata,
  credentials as channelCredentials,
  status,
  type CallOptions as GrpcCallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientWritableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { methodDefinition } from './adapter.js';
import { errorOfStatus } from './status.js';
import { RpcTelemetry, metadataSetter, rpcAttributes, rpcName } from './telemetry.js';

/** PEM files' contents a client connects over TLS with. */
export interface ClientTls {
  /** CA certificates the server's certificate must chain to; the system's roots when absent. */
  readonly ca?: Buffer;
  /** The certificate chain and private key to present, for mutual TLS. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export interface ClientOptions {
  /** Plaintext by default: services talk inside the cluster network. */
  readonly credentials?: ChannelCredentials;
  /** Connects over TLS; the same as `credentials` made by `credentials.createSsl`. */
  readonly tls?: ClientTls;
  /** Deadline of every call unless the call sets its own; `Infinity` for none. Default 30 s. */
  readonly timeoutMs?: number;
  /** Sent with every call, e.g. an API key the server's `authenticate` hook checks. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** grpc-js channel options, e.g. `grpc.max_receive_message_length`. */
  readonly grpcOptions?: Partial<ChannelOptions>;
}

export interface CallOptions {
  /** Overrides the client's default deadline for this call; `Infinity` for none. */
  readonly timeoutMs?: number;
  /** Cancels the call; it then fails with CANCELLED. */
  readonly signal?: AbortSignal;
  readonly metadata?: Readonly<Record<string, string>>;
}

export type UnaryMethod<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

export type ServerStreamingMethod<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>;

/** Requests to stream: an async source, or a plain array when they are all known upfront. */
export type Requests<I extends DescMessage> =
  AsyncIterable<MessageInitShape<I>> | Iterable<MessageInitShape<I>>;

export type ClientStreamingMethod<I extends DescMessage, O extends DescMessage> = (
  requests: Requests<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

export type BiDiStreamingMethod<I extends DescMessage, O extends DescMessage> = (
  requests: Requests<I>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>;

export type ClientMethod<M extends DescMethod> =
  M extends DescMethodUnary<infer I, infer O>
    ? UnaryMethod<I, O>
    : M extends DescMethodServerStreaming<infer I, infer O>
      ? ServerStreamingMethod<I, O>
      : M extends DescMethodClientStreaming<infer I, infer O>
        ? ClientStreamingMethod<I, O>
        : M extends DescMethodBiDiStreaming<infer I, infer O>
          ? BiDiStreamingMethod<I, O>
          : never;

/** One method per RPC (named like the generated `method` map) plus `close()`. */
export type Client<S extends DescService> = {
  readonly [K in keyof S['method']]: ClientMethod<S['method'][K]>;
} & {
  /** Closes the channel; calls in flight fail with CANCELLED or UNAVAILABLE. */
  close(): void;
};

/** Calls a protobuf-es service over grpc-js; failures come back as `UnderstudyError`. */
export function createClient<S extends DescService>(
  service: S,
  address: string,
  options: ClientOptions = {},
): Client<S> {
  if (service.methods.some((m) => m.localName === 'close')) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `${service.typeName} has an RPC named close, which would hide Client.close()`,
    );
  }
  const channel = new GrpcClient(address, credentialsOf(options), options.grpcOptions);
  const caller = new Caller(channel, options);
  const methods = service.methods.map((method) => [method.localName, caller.method(method)]);
  return Object.assign(Object.fromEntries(methods), {
    close: () => {
      channel.close();
    },
  }) as Client<S>;
}

function credentialsOf({ credentials, tls }: ClientOptions): ChannelCredentials {
  if (tls === undefined) return credentials ?? channelCredentials.createInsecure();
  if (credentials !== undefined || (tls.cert === undefined) !== (tls.key === undefined)) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'a client takes tls or credentials, not both; tls.cert and tls.key go together',
    );
  }
  return channelCredentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}

/**
 * grpc-js servers keep timeouts in 32-bit milliseconds (~24.8 days) and expire longer ones at
 * once; 24 days stays clear of that after the header rounds up to whole seconds.
 */
const maxTimeoutMs = 24 * 24 * 3600 * 1000;

/** One call in flight: its metadata and deadline, and how it ends. */
interface Call {
  readonly metadata: Metadata;
  readonly options: GrpcCallOptions;
  /** Set when our side gives up (the request source threw); reported instead of CANCELLED. */
  localFailure: unknown;
  /** Ends the span and records the duration; called once. */
  readonly finish: (code: status) => void;
}

class Caller {
  readonly #channel: GrpcClient;
  readonly #options: ClientOptions;
  readonly #telemetry = new RpcTelemetry('client');

  constructor(channel: GrpcClient, options: ClientOptions) {
    this.#channel = channel;
    this.#options = options;
  }

  method(method: DescMethod): (input: never, options?: CallOptions) => unknown {
    const { path, requestSerialize, responseDeserialize } = methodDefinition(method);
    const input = (init: Record<string, unknown>): Message => create(method.input, init);
    const channel = this.#channel;

    switch (method.methodKind) {
      case 'unary':
        return (request: Record<string, unknown>, options: CallOptions = {}) =>
          this.#single(method, options, (call, done) =>
            channel.makeUnaryRequest(
              path,
              requestSerialize,
              responseDeserialize,
              input(request),
              call.metadata,
              call.options,
              done,
            ),
          );
      case 'server_streaming':
        return (request: Record<string, unknown>, options: CallOptions = {}) =>
          this.#stream(method, options, (call) =>
            channel.makeServerStreamRequest(
              path,
              requestSerialize,
              responseDeserialize,
              input(request),
              call.metadata,
              call.options,
            ),
          );
      case 'client_streaming':
        return (requests: Requests<DescMessage>, options: CallOptions = {}) =>
          this.#single(method, options, (call, done) => {
            const stream = channel.makeClientStreamRequest(
              path,
              requestSerialize,
              responseDeserialize,
              call.metadata,
              call.options,
              done,
            );
            void pump(requests, input, stream, call);
            return stream;
          });
      case 'bidi_streaming':
        return (requests: Requests<DescMessage>, options: CallOptions = {}) =>
          this.#stream(method, options, (call) => {
            const stream = channel.makeBidiStreamRequest(
              path,
              requestSerialize,
              responseDeserialize,
              call.metadata,
              call.options,
            );
            void pump(requests, input, stream, call);
            return stream;
          });
    }
  }

  /** Unary and client streaming: one response, handed to `done` by grpc-js. */
  async #single(
    method: DescMethod,
    options: CallOptions,
    start: (
      call: Call,
      done: (error: ServiceError | null, response?: Message) => void,
    ) => {
      cancel(): void;
    },
  ): Promise<Message> {
    const call = this.#begin(method, options);
    return new Promise<Message>((resolve, reject) => {
      let grpcCall: { cancel(): void } | undefined;
      const onAbort = (): void => {
        grpcCall?.cancel();
      };
      try {
        grpcCall = start(call, (error, response) => {
          options.signal?.removeEventListener('abort', onAbort);
          call.finish(error ? error.code : status.OK);
          if (error) reject(failureOf(call, error));
          else if (response === undefined) reject(missingResponse(method));
          else resolve(response);
        });
      } catch (error) {
        // A request the schema cannot take fails here, before anything is sent.
        call.finish(status.INTERNAL);
        reject(UnderstudyError.from(error));
        return;
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Server streaming and bidi: the call starts when the caller starts iterating. */
  async *#stream(
    method: DescMethod,
    options: CallOptions,
    start: (call: Call) => AsyncIterable<unknown> & { cancel(): void },
  ): AsyncGenerator<Message> {
    const call = this.#begin(method, options);
    let stream: AsyncIterable<unknown> & { cancel(): void };
    try {
      stream = start(call);
    } catch (error) {
      call.finish(status.INTERNAL);
      throw UnderstudyError.from(error);
    }
    const onAbort = (): void => {
      stream.cancel();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let code: status = status.CANCELLED;
    try {
      for await (const response of stream) yield response as Message;
      code = status.OK;
    } catch (error) {
      if (!isServiceError(error)) throw UnderstudyError.from(error);
      code = error.code;
      throw failureOf(call, error);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      // The caller stopped iterating early: tell the server instead of leaving the call open.
      if (code === status.CANCELLED) stream.cancel();
      call.finish(code);
    }
  }

  /** Starts the client span, injects its trace context, sets metadata and the deadline. */
  #begin(method: DescMethod, options: CallOptions): Call {
    if (options.signal?.aborted) {
      throw new UnderstudyError(ErrorCode.Cancelled, `${rpcName(method)} cancelled before start`, {
        cause: options.signal.reason,
      });
    }
    const metadata = new Metadata();
    for (const [key, value] of Object.entries({ ...this.#options.metadata, ...options.metadata })) {
      try {
        metadata.set(key, value);
      } catch (error) {
        throw new UnderstudyError(ErrorCode.InvalidArgument, `bad metadata key "${key}"`, {
          cause: error,
        });
      }
    }
    const startedAt = performance.now();
    const span = this.#telemetry.tracer.startSpan(rpcName(method), {
      kind: SpanKind.CLIENT,
      attributes: rpcAttributes(method),
    });
    propagation.inject(trace.setSpan(context.active(), span), metadata, metadataSetter);
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? 30_000;
    return {
      metadata,
      options: Number.isFinite(timeoutMs)
        ? { deadline: new Date(Date.now() + Math.min(timeoutMs, maxTimeoutMs)) }
        : {},
      localFailure: undefined,
      finish: (code) => {
        this.#telemetry.finish(span, method, code, startedAt);
      },
    };
  }
}

/**
 * Feeds a request stream into a call with back-pressure, then half-closes it. If the source
 * throws, the call is cancelled and the caller gets the source's error.
 */
async function pump(
  requests: Requests<DescMessage>,
  input: (init: Record<string, unknown>) => Message,
  stream: ClientWritableStream<Message>,
  call: Call,
): Promise<void> {
  // A call that ends (any status) releases a pending wait for 'drain'.
  const ended = new AbortController();
  stream.once('status', () => {
    ended.abort();
  });
  try {
    for await (const request of requests) {
      if (!stream.write(input(request))) await once(stream, 'drain', { signal: ended.signal });
      if (ended.signal.aborted) return;
    }
    stream.end();
  } catch (error) {
    if (ended.signal.aborted) return;
    call.localFailure = error;
    stream.cancel();
  }
}

function failureOf(call: Call, error: ServiceError): UnderstudyError {
  return call.localFailure === undefined
    ? errorOfStatus(error)
    : UnderstudyError.from(call.localFailure);
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && 'code' in error && 'metadata' in error;
}

function missingResponse(method: DescMethod): UnderstudyError {
  return new UnderstudyError(ErrorCode.Internal, `${rpcName(method)} returned no response`);
}
