import type { DescMethod } from '@bufbuild/protobuf';
import { status, type Metadata } from '@grpc/grpc-js';
import { statusName } from './status.js';
import {
  metrics,
  trace,
  SpanStatusCode,
  type Attributes,
  type Histogram,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';

/** Lets the globally installed propagator (W3C trace context) read and write gRPC metadata. */
export const metadataGetter: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key).filter((v): v is string => typeof v === 'string');
    return values.length === 0 ? undefined : values;
  },
};

export const metadataSetter: TextMapSetter<Metadata> = {
  set: (metadata, key, value) => {
    metadata.set(key, value);
  },
};

/** `package.Service/Method`, the `rpc.method` value and the span name. */
export function rpcName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

export function rpcAttributes(method: DescMethod): Attributes {
  return { 'rpc.system.name': 'grpc', 'rpc.method': rpcName(method) };
}

/**
 * Codes that mean the server failed rather than the caller (OTel gRPC conventions): only these
 * mark a server span as an error.
 */
const serverFaults = new Set<status>([
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.UNIMPLEMENTED,
  status.INTERNAL,
  status.UNAVAILABLE,
  status.DATA_LOSS,
]);

/**
 * Spans and the call-duration histogram for one side of a call. Built when a server or client
 * is created, not at import, because the metrics API has no proxy: instruments taken before the
 * SDK is installed would stay no-ops.
 */
export class RpcTelemetry {
  readonly tracer = trace.getTracer('understudy.grpc');
  readonly #side: 'server' | 'client';
  readonly #duration: Histogram;

  constructor(side: 'server' | 'client') {
    this.#side = side;
    this.#duration = metrics
      .getMeter('understudy.grpc')
      .createHistogram(`rpc.${side}.call.duration`, {
        unit: 's',
        description: `Duration of ${side === 'server' ? 'incoming' : 'outgoing'} gRPC calls.`,
      });
  }

  /** Ends a call's span and records its duration under the stable RPC conventions. */
  finish(span: Span, method: DescMethod, code: status, startedAt: number): void {
    const statusCode = statusName(code);
    span.setAttribute('rpc.status_code', statusCode);
    const failed = this.#side === 'client' ? code !== status.OK : serverFaults.has(code);
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: statusCode });
    span.end();
    this.#duration.record((performance.now() - startedAt) / 1000, {
      ...rpcAttributes(method),
      'rpc.status_code': statusCode,
    });
  }
}
