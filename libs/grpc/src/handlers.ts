import { once } from 'node:events';
import type { Writable } from 'node:stream';
import {
  create,
  type DescMessage,
  type DescMethod,
  type Message,
  type MessageInitShape,
} from '@bufbuild/protobuf';
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
import { context } from '@opentelemetry/api';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { answerFailure, deadlineOf, deadlineSlackMs, type Edge } from './intake.js';
import type { Authorize, CallContext } from './service-impl.js';
import { rpcName } from './telemetry.js';

/**
 * How a service's handlers exchange messages: `typed` ones take decoded messages and return
 * init objects, `raw` ones take and return the bytes on the wire.
 */
export type Encoding = 'typed' | 'raw';

/** A handler of any kind and encoding, as `grpcHandler` calls it. */
type AnyUnary = (request: unknown, context: CallContext) => unknown;
type AnyServerStreaming = (request: unknown, context: CallContext) => AsyncIterable<unknown>;
type AnyClientStreaming = (requests: AsyncIterable<unknown>, context: CallContext) => unknown;
type AnyBiDi = (requests: AsyncIterable<unknown>, context: CallContext) => AsyncIterable<unknown>;

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
 * Wraps a handler into a grpc-js one. Each call gets an AbortSignal (client cancel, deadline),
 * the server span and principal the intake opened it with, a duration metric, and its failure
 * turned into a gRPC status here, at the edge.
 */
export function grpcHandler(
  method: DescMethod,
  impl: (...args: never[]) => unknown,
  edge: Edge,
  encoding: Encoding,
): UntypedHandleCall {
  // What the method definition serializes: a message built from the init object, or the bytes.
  const output =
    encoding === 'raw'
      ? (response: unknown): unknown => response
      : (response: unknown): unknown =>
          create(method.output, response as MessageInitShape<DescMessage>);
  // What the handler gets: a typed request once authorized, raw bytes as they came.
  const admit: Admit =
    encoding === 'raw' || edge.authorize === undefined
      ? (request) => request
      : authorizer(method, edge.authorize);
  switch (method.methodKind) {
    case 'unary': {
      const handle = impl as AnyUnary;
      return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        serve(method, edge, call, callback, async (ctx) => {
          callback(null, output(await handle(await admit(call.request, ctx), ctx)));
        });
      };
    }
    case 'server_streaming': {
      const handle = impl as AnyServerStreaming;
      return (call: ServerWritableStream<unknown, unknown>) => {
        serve(method, edge, call, emitStatus(call), async (ctx) => {
          for await (const response of handle(await admit(call.request, ctx), ctx)) {
            await write(call, output(response), ctx.signal);
          }
          call.end();
        });
      };
    }
    case 'client_streaming': {
      const handle = impl as AnyClientStreaming;
      return (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        serve(method, edge, call, callback, async (ctx) => {
          callback(null, output(await handle(admitEach(call, admit, ctx), ctx)));
        });
      };
    }
    case 'bidi_streaming': {
      const handle = impl as AnyBiDi;
      return (call: ServerDuplexStream<unknown, unknown>) => {
        serve(method, edge, call, emitStatus(call), async (ctx) => {
          for await (const response of handle(admitEach(call, admit, ctx), ctx)) {
            await write(call, output(response), ctx.signal);
          }
          call.end();
        });
      };
    }
  }
}

type Admit = (request: unknown, ctx: CallContext) => unknown;

/** Runs `authorize` on a decoded request; what it returns must still be the method's input. */
function authorizer(method: DescMethod, authorize: Authorize): Admit {
  return async (request, ctx) => {
    const admitted: Message = await authorize(request as Message, ctx);
    if (admitted.$typeName !== method.input.typeName) {
      throw new UnderstudyError(
        ErrorCode.Internal,
        `authorize answered ${rpcName(method)} with a ${admitted.$typeName}`,
      );
    }
    return admitted;
  };
}

/**
 * A request stream whose messages reach the handler one by one, each once admitted. A handler
 * that stops reading early (it failed, or has heard enough) leaves the call's stream open:
 * destroying it there would keep the call from sending its status.
 */
async function* admitEach(
  requests: AsyncIterable<unknown>,
  admit: Admit,
  ctx: CallContext,
): AsyncGenerator {
  const reader = requests[Symbol.asyncIterator]();
  for (;;) {
    const next = await reader.next();
    if (next.done === true) return;
    yield await admit(next.value, ctx);
  }
}

/** grpc-js ends a stream with an error status when the stream emits that status as an error. */
function emitStatus(call: Writable): (failure: StatusObject) => void {
  return (failure) => call.emit('error', failure);
}

/** Writes with back-pressure: a slow reader holds the handler instead of filling memory. */
async function write(call: Writable, message: unknown, signal: AbortSignal): Promise<void> {
  if (!call.write(message)) await once(call, 'drain', { signal });
}

function serve(
  method: DescMethod,
  edge: Edge,
  call: SurfaceCall,
  fail: (failure: StatusObject) => void,
  body: (ctx: CallContext) => Promise<void>,
): void {
  const opened = edge.intake.take(call.metadata);
  if (opened === undefined) {
    // Only a call that bypassed the intake (an interceptor swapped its metadata) gets here:
    // refused, as it was never authenticated.
    const failure = new UnderstudyError(
      ErrorCode.Internal,
      `${rpcName(method)} reached its handler without passing the intake`,
    );
    fail(answerFailure(edge, method, failure));
    return;
  }
  const abort = new AbortController();
  const deadline = deadlineOf(call.getDeadline());
  const deadlineExceeded = (): void => {
    abort.abort(new UnderstudyError(ErrorCode.DeadlineExceeded, 'deadline exceeded'));
  };
  const onCancel = (): void => {
    // A cancel that close to the deadline is the deadline (see deadlineSlackMs).
    if (deadline && Date.now() >= deadline.getTime() - deadlineSlackMs) deadlineExceeded();
    else abort.abort(new UnderstudyError(ErrorCode.Cancelled, 'call cancelled by the client'));
  };
  call.once('cancelled', onCancel);
  // grpc-js answers DEADLINE_EXCEEDED by itself; this timer tells the handler to stop working.
  const remainingMs = deadline ? deadline.getTime() - Date.now() : Infinity;
  const timer = remainingMs <= maxTimerMs ? setTimeout(deadlineExceeded, remainingMs) : undefined;

  const run = async (): Promise<void> => {
    let code = status.OK;
    try {
      await body({
        method,
        metadata: call.metadata,
        signal: abort.signal,
        deadline,
        principal: opened.principal,
        peer: call.getPeer(),
      });
    } catch (error) {
      // Once the call is cancelled or past its deadline, that is the outcome, whatever the
      // handler threw on its way out.
      const failure = UnderstudyError.from(abort.signal.aborted ? abort.signal.reason : error);
      const answer = answerFailure(edge, method, failure);
      code = answer.code;
      fail(answer);
    } finally {
      clearTimeout(timer);
      call.off('cancelled', onCancel);
      edge.telemetry.finish(opened.span, method, code, opened.startedAt);
    }
  };
  void context.with(opened.context, run);
}
