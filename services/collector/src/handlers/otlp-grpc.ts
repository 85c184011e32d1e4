import type { IncomingHttpHeaders } from 'node:http';
import type { DescMethod } from '@bufbuild/protobuf';
import { status as GrpcStatus, type Metadata } from '@grpc/grpc-js';
import { trace } from '@opentelemetry/api';
import { otlpLogsService, otlpTraceService } from '@understudy/contracts';
import { ErrorCode, grpcStatusOf, UnderstudyError } from '@understudy/errors';
import {
  GrpcServer,
  type Authenticate,
  type GrpcServerOptions,
  type Principal,
  type RawUnaryImpl,
} from '@understudy/grpc';
import { encodeExportResponse, type Signal } from '../domain/otlp-codec.js';
import { outcomeOf, retryAfterOf, type Admission, type OtlpEdge } from '../edge/otlp-edge.js';

const { TraceService } = otlpTraceService;
const { LogsService } = otlpLogsService;

/** The caller of an export let in: its tenant, within its request rate. */
class AdmittedExport implements Principal {
  readonly subject: string;
  readonly tenantId: string;

  constructor(readonly admission: Admission) {
    this.subject = admission.tenantId;
    this.tenantId = admission.tenantId;
  }
}

/** How the OTLP/gRPC server listens and stops; the handler sets the rest. */
export type OtlpGrpcServerOptions = Pick<
  GrpcServerOptions,
  'host' | 'port' | 'logger' | 'shutdownTimeoutMs'
>;

/** The string values of gRPC metadata, shaped as HTTP headers for the key and trace context. */
function headersOf(metadata: Metadata): IncomingHttpHeaders {
  return Object.fromEntries(
    Object.entries(metadata.getMap()).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    ),
  );
}

/** The server asks only about the two Export methods it serves. */
function signalOf(method: DescMethod): Signal {
  return method.parent.typeName === LogsService.typeName ? 'logs' : 'traces';
}

/**
 * OTLP/gRPC `TraceService/Export` and `LogsService/Export`, served raw by a `GrpcServer` beside
 * health and reflection. Its authenticate hook runs on the call's metadata, before grpc-js reads
 * the message: it finds the tenant by API key and applies its request rate, so a refused
 * exporter's message is never buffered. The handler then holds the bytes against the tenant's
 * limits and decodes them (INVALID_ARGUMENT for what does not decode, where grpc-js would answer
 * INTERNAL) for the ingest. Failures carry RetryInfo where retrying later can help.
 */
export class OtlpGrpcHandler {
  constructor(private readonly edge: OtlpEdge) {}

  /** A server for both exports, not yet started. */
  createServer(options: OtlpGrpcServerOptions = {}): GrpcServer {
    return new GrpcServer({
      ...options,
      authenticate: this.authenticate,
      retryDelay: retryAfterOf,
      // Room for the largest export any tenant may send; each tenant's own limit comes after.
      grpcOptions: { 'grpc.max_receive_message_length': this.edge.largestBodyBytes },
    })
      .registerRaw(TraceService, { export: this.exporter('traces') })
      .registerRaw(LogsService, { export: this.exporter('logs') });
  }

  private readonly authenticate: Authenticate = (metadata, method) => {
    const signal = signalOf(method);
    trace.getActiveSpan()?.setAttribute('otlp.signal', signal);
    try {
      return new AdmittedExport(this.edge.admit(this.edge.authenticate(headersOf(metadata))));
    } catch (error) {
      this.countFailure(signal, error);
      throw error;
    }
  };

  private exporter(signal: Signal): RawUnaryImpl {
    return async (request, { principal }) => {
      try {
        // Fails closed should the server have been built without the authenticate hook.
        if (!(principal instanceof AdmittedExport)) {
          throw new UnderstudyError(ErrorCode.Internal, 'OTLP call was not admitted');
        }
        const { admission } = principal;
        try {
          admission.hold(request.byteLength);
        } catch (error) {
          admission.release();
          throw error;
        }
        const result = await this.edge.export(signal, admission, request, 'protobuf');
        this.edge.countExport(signal, outcomeOf(result), { 'rpc.grpc.status_code': GrpcStatus.OK });
        return encodeExportResponse(signal, 'protobuf', result);
      } catch (error) {
        this.countFailure(signal, error);
        throw error;
      }
    };
  }

  private countFailure(signal: Signal, error: unknown): void {
    const { code } = UnderstudyError.from(error);
    this.edge.countExport(signal, code, { 'rpc.grpc.status_code': grpcStatusOf(code) });
  }
}
