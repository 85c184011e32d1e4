import type {
  DescMessage,
  DescMethod,
  DescMethodBiDiStreaming,
  DescMethodClientStreaming,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from '@bufbuild/protobuf';
import type { Metadata } from '@grpc/grpc-js';

/** Who is calling, as established by the server's `authenticate` hook. */
export interface Principal {
  /** A stable id of the caller: service account, API key id, user. */
  readonly subject: string;
  /** The tenant the caller acts for, where one applies. */
  readonly tenantId?: string;
}

/**
 * Establishes the caller from request metadata, or rejects with an `UnderstudyError`
 * (UNAUTHENTICATED, PERMISSION_DENIED). Runs before every call to a registered service.
 */
export type Authenticate = (metadata: Metadata, method: DescMethod) => Promise<Principal>;

/** What a handler knows about the call beyond its request. */
export interface CallContext {
  readonly method: DescMethod;
  readonly metadata: Metadata;
  /** Aborts when the client cancels, the deadline passes or the server is forced down. */
  readonly signal: AbortSignal;
  readonly deadline: Date | undefined;
  /** Set when the server has an `authenticate` hook. */
  readonly principal: Principal | undefined;
  readonly peer: string;
}

export type UnaryImpl<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => MessageInitShape<O> | Promise<MessageInitShape<O>>;

/** An async generator: each yielded value is one response, returning ends the stream. */
export type ServerStreamingImpl<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

export type ClientStreamingImpl<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => Promise<MessageInitShape<O>>;

export type BiDiStreamingImpl<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

export type MethodImpl<M extends DescMethod> =
  M extends DescMethodUnary<infer I, infer O>
    ? UnaryImpl<I, O>
    : M extends DescMethodServerStreaming<infer I, infer O>
      ? ServerStreamingImpl<I, O>
      : M extends DescMethodClientStreaming<infer I, infer O>
        ? ClientStreamingImpl<I, O>
        : M extends DescMethodBiDiStreaming<infer I, infer O>
          ? BiDiStreamingImpl<I, O>
          : never;

/** One typed handler per RPC of a generated service, keyed like the generated `method` map. */
export type ServiceImpl<S extends DescService> = {
  readonly [K in keyof S['method']]: MethodImpl<S['method'][K]>;
};
