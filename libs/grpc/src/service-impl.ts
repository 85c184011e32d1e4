import type { PeerCertificate } from 'node:tls';
import type {
  DescMessage,
  DescMethod,
  DescMethodBiDiStreaming,
  DescMethodClientStreaming,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  Message,
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

/** What the transport tells about the caller. */
export interface Peer {
  /**
   * The certificate the caller presented, verified against the server's client CA; only over
   * mutual TLS (`GrpcServerOptions.tls.clientCa`).
   */
  readonly certificate?: PeerCertificate;
}

/**
 * Establishes the caller from request metadata and the transport, or throws (rejects with) an
 * `UnderstudyError` (UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED for a caller over its
 * rate). Runs when a call's metadata arrives, before its request message is read, inside the
 * call's span.
 */
export type Authenticate = (
  metadata: Metadata,
  method: DescMethod,
  peer: Peer,
) => Principal | Promise<Principal>;

/**
 * Decides, once a request is decoded, whether the caller may make it, for what `authenticate`
 * cannot see before the body (e.g. which tenant a request is for); throws (rejects with)
 * PERMISSION_DENIED or INVALID_ARGUMENT otherwise. Returns the request the handler gets: the one
 * given, or a copy with what the caller implies filled in (e.g. the tenant of a caller acting for
 * one). Runs for every request message of typed services, streamed ones included.
 */
export type Authorize = (request: Message, context: CallContext) => Message | Promise<Message>;

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

/**
 * Raw handlers see the request as the bytes that came over the wire and answer bytes: the service
 * decodes (and may refuse) a request itself, and `GrpcServer` serves the method as described
 * (health, reflection, telemetry, error mapping) without decoding anything.
 */
export type RawUnaryImpl = (
  request: Uint8Array,
  context: CallContext,
) => Uint8Array | Promise<Uint8Array>;

export type RawServerStreamingImpl = (
  request: Uint8Array,
  context: CallContext,
) => AsyncIterable<Uint8Array>;

export type RawClientStreamingImpl = (
  requests: AsyncIterable<Uint8Array>,
  context: CallContext,
) => Promise<Uint8Array>;

export type RawBiDiStreamingImpl = (
  requests: AsyncIterable<Uint8Array>,
  context: CallContext,
) => AsyncIterable<Uint8Array>;

export type RawMethodImpl<M extends DescMethod> = M extends { methodKind: 'unary' }
  ? RawUnaryImpl
  : M extends { methodKind: 'server_streaming' }
    ? RawServerStreamingImpl
    : M extends { methodKind: 'client_streaming' }
      ? RawClientStreamingImpl
      : M extends { methodKind: 'bidi_streaming' }
        ? RawBiDiStreamingImpl
        : never;

/** One raw handler per RPC of a generated service, keyed like the generated `method` map. */
export type RawServiceImpl<S extends DescService> = {
  readonly [K in keyof S['method']]: RawMethodImpl<S['method'][K]>;
};
