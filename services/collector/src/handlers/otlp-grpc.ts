import type { IncomingHttpHeaders } from 'node:http';
import { toBinary, type DescMethod } from '@bufbuild/protobuf';
import {
  ServerInterceptingCall,
  status as GrpcStatus,
  type Metadata,
  type MethodDefinition,
  type ServerInterceptor,
  type ServerOptions,
  type ServerUnaryCall,
  type StatusObject,
  type sendUnaryData,
} from '@grpc/grpc-js';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
} from '@opentelemetry/api';
import { googleRpc, otlpLogsService, otlpTraceService } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { methodPath, statusOfError } from '@understudy/grpc';
import { recordFailure, silentLogger, type Logger } from '@understudy/telemetry';
import type { GrpcServiceHandlers } from '../drivers/grpc-server.js';
import { encodeExportResponse, rpcStatus, type Signal } from '../domain/otlp-codec.js';
import {
  outcomeOf,
  retryAfterOf,
  type Admission,
  type OtlpEdge,
  type Outcome,
} from '../edge/otlp-edge.js';

/** The google.rpc.Status trailer gRPC clients read error details (RetryInfo) from. */
export const statusDetailsTrailer = 'grpc-status-details-bin';

/** The telemetry of one OTLP call, from its metadata to its answer. */
interface CallTelemetry {
  readonly signal: Signal;
  readonly span: Span;
  finished: boolean;
}

/** An admitted call, waiting for grpc-js to read its message. */
interface AdmittedCall extends CallTelemetry {
  readonly admission: Admission;
}

const identity = (bytes: Buffer): Buffer => bytes;

/**
 * The request stays raw bytes: the edge decodes it once the caller is authenticated and within
 * its limits, and answers an undecodable one INVALID_ARGUMENT (grpc-js would say INTERNAL).
 */
function rawMethod(method: DescMethod): MethodDefinition<Buffer, Buffer> {
  return {
    path: methodPath(method),
    originalName: method.name,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/** The string values of gRPC metadata, shaped as HTTP headers for the key and trace context. */
function headersOf(metadata: Metadata): IncomingHttpHeaders {
  return Object.fromEntries(
    Object.entries(metadata.getMap()).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    ),
  );
}

/** The gRPC status of a failure, with a google.rpc.Status (and RetryInfo) in the trailers. */
export function grpcStatusOfFailure(failure: UnderstudyError): StatusObject {
  const status = statusOfError(failure);
  const details = rpcStatus(failure.code, status.details, retryAfterOf(failure));
  status.metadata.set(statusDetailsTrailer, Buffer.from(toBinary(googleRpc.StatusSchema, details)));
  return status;
}

/**
 * OTLP/gRPC `TraceService/Export` and `LogsService/Export`. grpc-js calls a unary handler only
 * once the whole message is in memory, so the interceptor authenticates and applies the rate
 * limits from metadata alone and refuses before the message is read; the handler then holds the
 * bytes against the tenant's limits, decodes them and hands them to the ingest.
 */
export class OtlpGrpcHandler {
  readonly services: readonly GrpcServiceHandlers[];
  private readonly tracer = trace.getTracer('understudy.collector');
  private readonly calls = new WeakMap<Metadata, AdmittedCall>();
  private readonly signals: ReadonlyMap<string, { signal: Signal; method: DescMethod }>;

  constructor(
    private readonly edge: OtlpEdge,
    private readonly logger: Logger = silentLogger,
  ) {
    const served = [
      { service: otlpTraceService.TraceService, signal: 'traces' },
      { service: otlpLogsService.LogsService, signal: 'logs' },
    ] as const;
    this.services = served.map(({ service, signal }) => ({
      definition: { export: rawMethod(service.method.export) },
      implementation: { export: this.handler(signal) },
    }));
    this.signals = new Map(
      served.map(({ service, signal }) => [
        methodPath(service.method.export),
        { signal, method: service.method.export },
      ]),
    );
  }

  /** What the server must be created with: the interceptor, and room for the largest export. */
  get serverOptions(): ServerOptions {
    return {
      interceptors: [this.interceptor],
      'grpc.max_receive_message_length': this.edge.largestBodyBytes,
    };
  }

  private readonly interceptor: ServerInterceptor = (descriptor, call) => {
    const served = this.signals.get(descriptor.path);
    if (served === undefined) return new ServerInterceptingCall(call);
    let admitted: AdmittedCall | undefined;
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, accept) => {
            const telemetry = this.begin(served.signal, served.method, metadata);
            try {
              admitted = context.with(trace.setSpan(context.active(), telemetry.span), () => ({
                ...telemetry,
                admission: this.edge.admit(this.edge.authenticate(headersOf(metadata))),
              }));
            } catch (error) {
              // Never accepted, grpc-js never reads the message.
              const failure = UnderstudyError.from(error);
              const status = grpcStatusOfFailure(failure);
              this.finish(telemetry, status.code, failure.code, failure);
              call.sendStatus(status);
              return;
            }
            this.calls.set(metadata, admitted);
            accept(metadata);
          },
          // Every call ends here, after its status. Calls grpc-js ended before the handler ran
          // (cancelled, past their deadline, a message over the size limit) are finished now.
          onCancel: () => {
            if (admitted !== undefined) this.finish(admitted, undefined, 'ended_by_transport');
          },
        });
      },
    });
  };

  /** Starts the call's server span, continuing the caller's trace. */
  private begin(signal: Signal, method: DescMethod, metadata: Metadata): CallTelemetry {
    const name = `${method.parent.typeName}/${method.name}`;
    const span = this.tracer.startSpan(
      name,
      {
        kind: SpanKind.SERVER,
        attributes: { 'rpc.system.name': 'grpc', 'rpc.method': name, 'otlp.signal': signal },
      },
      propagation.extract(ROOT_CONTEXT, headersOf(metadata)),
    );
    return { signal, span, finished: false };
  }

  private handler(signal: Signal) {
    return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
      const admitted = this.calls.get(call.metadata);
      if (admitted === undefined) {
        // Fails closed should the server have been built without the interceptor.
        const failure = new UnderstudyError(ErrorCode.Internal, 'OTLP call was not admitted');
        this.logger.error({ err: failure }, failure.message);
        callback(grpcStatusOfFailure(failure));
        return;
      }
      const { admission, span } = admitted;
      void context.with(trace.setSpan(context.active(), span), async () => {
        try {
          try {
            admission.hold(call.request.length);
          } catch (error) {
            admission.release();
            throw error;
          }
          const result = await this.edge.export(signal, admission, call.request, 'protobuf');
          this.finish(admitted, GrpcStatus.OK, outcomeOf(result));
          callback(null, Buffer.from(encodeExportResponse(signal, 'protobuf', result)));
        } catch (error) {
          const failure = UnderstudyError.from(error);
          if (failure.code === ErrorCode.Internal) {
            this.logger.error({ err: error, signal }, 'OTLP export failed');
          }
          const status = grpcStatusOfFailure(failure);
          this.finish(admitted, status.code, failure.code, failure);
          callback(status);
        }
      });
    };
  }

  /** Ends the span and counts the export, once; `code` is unknown where grpc-js answered. */
  private finish(
    call: CallTelemetry,
    code: GrpcStatus | undefined,
    outcome: Outcome,
    failure?: UnderstudyError,
  ): void {
    if (call.finished) return;
    call.finished = true;
    const { span } = call;
    if (failure !== undefined) recordFailure(span, failure);
    else if (code === GrpcStatus.OK) span.setStatus({ code: SpanStatusCode.OK });
    if (code !== undefined) span.setAttribute('rpc.grpc.status_code', code);
    span.end();
    this.edge.countExport(
      call.signal,
      outcome,
      code === undefined ? {} : { 'rpc.grpc.status_code': code },
    );
  }
}
