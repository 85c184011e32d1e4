import type { DescMethod } from '@bufbuild/protobuf';
import {
  ServerInterceptingCall,
  status,
  type Deadline,
  type Metadata,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  ROOT_CONTEXT,
  SpanKind,
  context,
  propagation,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { Logger } from '@understudy/telemetry';
import { methodPath } from './adapter.js';
import type { Authenticate, Authorize, Peer, Principal } from './service-impl.js';
import { statusOfError } from './status.js';
import { metadataGetter, rpcAttributes, rpcName, type RpcTelemetry } from './telemetry.js';

/** Seconds a caller should wait before retrying after `failure`; undefined where unknown. */
export type RetryDelay = (failure: UnderstudyError) => number | undefined;

/** What every call of one service shares: where failures go and who may call. */
export interface Edge {
  readonly logger: Logger;
  readonly telemetry: RpcTelemetry;
  /** Absent for public services (health, reflection) and servers without authentication. */
  readonly authenticate: Authenticate | undefined;
  /** Absent like `authenticate`; handlers run it on each decoded request. */
  readonly authorize: Authorize | undefined;
  readonly retryDelay: RetryDelay | undefined;
  /** Where the service's calls come in; handlers take them from here. */
  readonly intake: CallIntake;
}

/** A call the intake let in, for its handler to take over. */
export interface OpenCall {
  /** The context the call runs in, its server span active. */
  readonly context: Context;
  readonly span: Span;
  /** `performance.now()` when its metadata arrived. */
  readonly startedAt: number;
  readonly principal: Principal | undefined;
}

/**
 * A client cancels at its own deadline, which falls a little before ours (counted from when its
 * headers arrived): a cancel that close to the deadline is the deadline.
 */
export const deadlineSlackMs = 50;

export function deadlineOf(deadline: Deadline): Date | undefined {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** The status a failure is answered with, logged as its code deserves. */
export function answerFailure(
  edge: Edge,
  method: DescMethod,
  failure: UnderstudyError,
): StatusObject {
  const fields = { rpc: rpcName(method), code: failure.code, details: failure.details };
  if (failure.code === ErrorCode.Internal) {
    edge.logger.error({ ...fields, err: failure.cause ?? failure }, failure.message);
  } else {
    edge.logger.debug(fields, failure.message);
  }
  return statusOfError(failure, edge.retryDelay?.(failure));
}

/** Only a certificate the server verified (mutual TLS): grpc-js leaves out any other. */
function peerOf(call: ServerInterceptingCallInterface): Peer {
  const certificate = call.getAuthContext().sslPeerCertificate;
  return certificate === undefined ? {} : { certificate };
}

function endedByTransport(deadline: Deadline): status {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Date.now() >= ms - deadlineSlackMs ? status.DEADLINE_EXCEEDED : status.CANCELLED;
}

interface Route {
  readonly method: DescMethod;
  readonly edge: Edge;
}

class Arrival implements OpenCall {
  readonly startedAt = performance.now();
  readonly span: Span;
  readonly context: Context;
  principal: Principal | undefined;
  state: 'authenticating' | 'open' | 'taken' | 'ended' = 'authenticating';

  constructor(
    readonly route: Route,
    metadata: Metadata,
  ) {
    const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
    this.span = route.edge.telemetry.tracer.startSpan(
      rpcName(route.method),
      { kind: SpanKind.SERVER, attributes: rpcAttributes(route.method) },
      parent,
    );
    this.context = trace.setSpan(parent, this.span);
  }

  /** Records how the call ended, once, unless a handler took it over (it records then). */
  end(code: status): void {
    if (this.state === 'taken' || this.state === 'ended') return;
    this.state = 'ended';
    this.route.edge.telemetry.finish(this.span, this.route.method, code, this.startedAt);
  }
}

/**
 * Where every call to a registered method comes in, as a grpc-js interceptor: when the call's
 * metadata arrives it starts the call's span and clock and authenticates the caller, before
 * grpc-js reads any of the request (it reads only once the metadata is let through). A refused
 * caller is answered at once and its message never buffered, however large it says it is. The
 * handler then takes the call over by its metadata.
 */
export class CallIntake {
  readonly #routes = new Map<string, Route>();
  readonly #open = new WeakMap<Metadata, Arrival>();

  route(method: DescMethod, edge: Edge): void {
    this.#routes.set(methodPath(method), { method, edge });
  }

  /** The call let in with this metadata, once; undefined for a call the intake never saw. */
  take(metadata: Metadata): OpenCall | undefined {
    const arrival = this.#open.get(metadata);
    if (arrival?.state !== 'open') return undefined;
    this.#open.delete(metadata);
    arrival.state = 'taken';
    return arrival;
  }

  readonly interceptor: ServerInterceptor = (descriptor, call) => {
    const route = this.#routes.get(descriptor.path);
    if (route === undefined) return new ServerInterceptingCall(call);
    let arrival: Arrival | undefined;
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, letThrough) => {
            const arrived = new Arrival(route, metadata);
            arrival = arrived;
            const open = (principal: Principal | undefined): void => {
              if (arrived.state !== 'authenticating') return;
              arrived.principal = principal;
              arrived.state = 'open';
              this.#open.set(metadata, arrived);
              letThrough(metadata);
            };
            const { authenticate } = route.edge;
            if (authenticate === undefined) {
              open(undefined);
              return;
            }
            void context.with(arrived.context, async () => {
              let principal: Principal;
              try {
                principal = await authenticate(metadata, route.method, peerOf(call));
              } catch (error) {
                if (arrived.state !== 'authenticating') return;
                const answer = answerFailure(route.edge, route.method, UnderstudyError.from(error));
                arrived.end(answer.code);
                call.sendStatus(answer);
                return;
              }
              open(principal);
            });
          },
          // Every call ends here, after its status. One that no handler took was ended by grpc-js
          // (client gone, deadline passed, message over the size limit), which does not say with
          // what status: it is recorded as CANCELLED, or DEADLINE_EXCEEDED once past the deadline.
          onCancel: () => {
            arrival?.end(endedByTransport(call.getDeadline()));
          },
        });
      },
    });
  };
}
