import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { create, type DescMessage, type DescMethod, type Message } from '@bufbuild/protobuf';
import {
  status,
  type Deadline,
  type Metadata,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type StatusObject,
  type UntypedHandleCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { Logger } from '@understudy/telemetry';
import type {
  Authenticate,
  BiDiStreamingImpl,
  CallContext,
  ClientStreamingImpl,
  ServerStreamingImpl,
  UnaryImpl,
} from './service-impl.js';
import { statusOfError } from './status.js';
import { metadataGetter, rpcAttributes, rpcName, type RpcTelemetry } from './telemetry.js';

/** What every call of one service shares: where failures go and who may call. */
export interface Edge {
  readonly logger: Logger;
  readonly telemetry: RpcTelemetry;
  /** Absent for public services (health, reflection) and servers without authentication. */
  readonly authenticate: Authenticate | undefined;
}

type AnyUnary = UnaryImpl<DescMessage, DescMessage>;
type AnyServerStreaming = ServerStreamingImpl<DescMessage, DescMessage>;
type AnyClientStreaming = ClientStreamingImpl<DescMessage, DescMessage>;
type AnyBiDi = BiDiStreamingImpl<DescMessage, DescMessage>;

const deadlineSlackMs = 50;
/** Node fires longer timers at once; deadlines further out than ~24 days are no deadline. */
const maxTimerMs = 2 ** 31 - 1;

/** The part of a grpc-js server call that is the same for all four kinds. */
interface SurfaceCall {
  readonly metadata: Metadata;
  getPeer(): string;
  getDeadline(): Deadline;
  once(event: 'cancelled', listener: () => void): unknown;
  off(event: 'cancelled', listener: () => void): unknown;
}

/**
 * Wraps a typed handler into a grpc-js one. Each call gets an AbortSignal (client cancel,
 * deadline), a server span continuing the caller's trace, the principal, a duration metric,
 * and its failure turned into a gRPC status here, at the edge.
 */
export function grpcHandler(
  method: DescMethod,
  impl: (...args: never[]) => unknown,
  edge: Edge,
): UntypedHandleCall {
  const output = (init: Record<string, unknown>): Message => create(method.output, init);
  switch (method.methodKind) {
    case 'unary': {
      const handle = impl as AnyUnary;
      return (call: ServerUnaryCall<Message, Message>, callback: sendUnaryData<Message>) => {
        serve(method, edge, call, callback, async (ctx) => {
          callback(null, output(await handle(call.request, ctx)));
        });
      };
    }
    case 'server_streaming': {
      const handle = impl as AnyServerStreaming;
      return (call: ServerWritableStream<Message, Message>) => {
        serve(method, edge, call, emitStatus(call), async (ctx) => {
          for await (const response of handle(call.request, ctx)) {
            await write(call, output(response), ctx.signal);
          }
          call.end();
        });
      };
    }
    case 'client_streaming': {
      const handle = impl as AnyClientStreaming;
      return (call: ServerReadableStream<Message, Message>, callback: sendUnaryData<Message>) => {
        serve(method, edge, call, callback, async (ctx) => {
          callback(null, output(await handle(call, ctx)));
        });
      };
    }
    case 'bidi_streaming': {
      const handle = impl as AnyBiDi;
      return (call: ServerDuplexStream<Message, Message>) => {
        serve(method, edge, call, emitStatus(call), async (ctx) => {
          for await (const response of handle(call, ctx)) {
            await write(call, output(response), ctx.signal);
          }
          call.end();
        });
      };
    }
  }
}

/** grpc-js ends a stream with an error status when the stream emits that status as an error. */
function emitStatus(call: Writable): (failure: StatusObject) => void {
  return (failure) => call.emit('error', failure);
}

/** Writes with back-pressure: a slow reader holds the handler instead of filling memory. */
async function write(call: Writable, message: Message, signal: AbortSignal): Promise<void> {
  if (!call.write(message)) await once(call, 'drain', { signal });
}

function serve(
  method: DescMethod,
  edge: Edge,
  call: SurfaceCall,
  fail: (failure: StatusObject) => void,
  body: (ctx: CallContext) => Promise<void>,
): void {
  const startedAt = performance.now();
  const abort = new AbortController();
  const deadline = deadlineOf(call.getDeadline());
  const deadlineExceeded = (): void => {
    abort.abort(new UnderstudyError(ErrorCode.DeadlineExceeded, 'deadline exceeded'));
  };
  const onCancel = (): void => {
    // A client cancels at its own deadline, which falls a little before ours (counted from
    // when its headers arrived): a cancel that close to the deadline is the deadline.
    if (deadline && Date.now() >= deadline.getTime() - deadlineSlackMs) deadlineExceeded();
    else abort.abort(new UnderstudyError(ErrorCode.Cancelled, 'call cancelled by the client'));
  };
  call.once('cancelled', onCancel);
  // grpc-js answers DEADLINE_EXCEEDED by itself; this timer tells the handler to stop working.
  const remainingMs = deadline ? deadline.getTime() - Date.now() : Infinity;
  const timer = remainingMs <= maxTimerMs ? setTimeout(deadlineExceeded, remainingMs) : undefined;

  const parent = propagation.extract(ROOT_CONTEXT, call.metadata, metadataGetter);
  const span = edge.telemetry.tracer.startSpan(
    rpcName(method),
    { kind: SpanKind.SERVER, attributes: rpcAttributes(method) },
    parent,
  );

  const run = async (): Promise<void> => {
    let code = status.OK;
    try {
      const principal = edge.authenticate && (await edge.authenticate(call.metadata, method));
      await body({
        method,
        metadata: call.metadata,
        signal: abort.signal,
        deadline,
        principal,
        peer: call.getPeer(),
      });
    } catch (error) {
      // Once the call is cancelled or past its deadline, that is the outcome, whatever the
      // handler threw on its way out.
      const failure = UnderstudyError.from(abort.signal.aborted ? abort.signal.reason : error);
      const answer = statusOfError(failure);
      code = answer.code;
      logFailure(edge.logger, method, failure);
      fail(answer);
    } finally {
      clearTimeout(timer);
      call.off('cancelled', onCancel);
      edge.telemetry.finish(span, method, code, startedAt);
    }
  };
  void context.with(trace.setSpan(parent, span), run);
}

function deadlineOf(deadline: Deadline): Date | undefined {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

function logFailure(logger: Logger, method: DescMethod, failure: UnderstudyError): void {
  const fields = { rpc: rpcName(method), code: failure.code, details: failure.details };
  if (failure.code === ErrorCode.Internal) {
    logger.error({ ...fields, err: failure.cause ?? failure }, failure.message);
  } else {
    logger.debug(fields, failure.message);
  }
}
