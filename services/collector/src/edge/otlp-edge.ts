import type { IncomingHttpHeaders } from 'node:http';
import { metrics, trace, type Attributes } from '@opentelemetry/api';
import type { otlpLogsService, otlpTraceService } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { apiKeyOf, type TenantKeys } from '@understudy/tenancy';
import type { Ingest, IngestResult } from '../domain/ingest.js';
import {
  decodedSizeOf,
  decodeLogsRequest,
  decodeTraceRequest,
  type Encoding,
  type Signal,
} from '../domain/otlp-codec.js';
import { InFlightBytes, type Reservation } from './in-flight.js';
import { TenantLimiter, type Limits } from './tenant-limiter.js';

export interface OtlpEdgeOptions {
  readonly tenants: TenantKeys;
  readonly ingest: Ingest;
  /** Service-wide defaults; the keys file may override them per tenant. */
  readonly limits: Limits;
  readonly maxInFlightBytes: number;
  /** How long an export waits for the ingest before it is answered 503. */
  readonly ingestTimeoutMs: number;
  /** Milliseconds from any fixed origin, for the rate limits (tests pass a fake clock). */
  readonly now?: () => number;
}

/** What a retryable refusal asks exporters to wait when nothing more precise is known. */
export const defaultRetryAfterSeconds = 5;

/**
 * How an export ended, as counted: success, partial success, the code it failed with, or ended
 * by the transport before the collector could answer (client gone, message over grpc-js' limit).
 */
export type Outcome = 'success' | 'partial_success' | 'ended_by_transport' | ErrorCode;

/**
 * The seconds a refusal asks the exporter to wait (Retry-After, RetryInfo), or undefined when
 * retrying the same export cannot help.
 */
export function retryAfterOf(error: UnderstudyError): number | undefined {
  const { retryAfterSeconds } = error.details;
  if (typeof retryAfterSeconds === 'number') return retryAfterSeconds;
  return error.code === ErrorCode.Unavailable ? defaultRetryAfterSeconds : undefined;
}

/** Success, or partial success where the ingest left records out or had a warning. */
export function outcomeOf(result: IngestResult): Outcome {
  return result.rejected > 0 || result.message !== '' ? 'partial_success' : 'success';
}

export function payloadTooLarge(maxBodyBytes: number): UnderstudyError {
  return new UnderstudyError(ErrorCode.PayloadTooLarge, `export larger than ${maxBodyBytes} bytes`);
}

/** An authenticated request within its tenant's rate, and the bytes its body holds. */
export class Admission {
  constructor(
    readonly tenantId: string,
    readonly maxBodyBytes: number,
    private readonly reservation: Reservation,
  ) {}

  /**
   * Accounts for `bytes` of body held now: past the tenant's largest export it is refused for
   * good (413), past the collector's in-flight budget for now (503).
   */
  hold(bytes: number): void {
    if (bytes > this.maxBodyBytes) throw payloadTooLarge(this.maxBodyBytes);
    this.#resize(bytes);
  }

  /**
   * Accounts for the memory the export will take once decoded, which may be a hundred times its
   * body: past the collector's whole in-flight budget it can never be taken (413), past what is
   * left of it not now (503).
   */
  holdDecoded(bytes: number): void {
    const { limit } = this.reservation;
    if (bytes > limit) {
      throw new UnderstudyError(
        ErrorCode.PayloadTooLarge,
        `export would take about ${bytes} bytes decoded, more than the collector holds at once (${limit})`,
      );
    }
    this.#resize(bytes);
  }

  #resize(bytes: number): void {
    if (!this.reservation.resize(bytes)) {
      throw new UnderstudyError(ErrorCode.Unavailable, 'collector is at its in-flight limit');
    }
  }

  release(): void {
    this.reservation.release();
  }
}

/**
 * What both OTLP transports share: authenticate by API key, apply the tenant's limits, decode,
 * hand the export to the ingest, and count what happened. Transports read and decompress the
 * body and turn failures into their own status codes.
 */
export class OtlpEdge {
  private readonly meter = metrics.getMeter('understudy.collector');
  private readonly exports = this.meter.createCounter('understudy.collector.exports', {
    description: 'OTLP export requests, by signal, transport, outcome and status',
  });
  private readonly records = this.meter.createCounter('understudy.collector.records', {
    description: 'Spans and log records received, by signal and outcome (accepted, rejected)',
  });
  private readonly throttled = this.meter.createCounter('understudy.collector.throttled', {
    description: 'Export requests refused for a tenant over its rate, by tenant and limit',
  });
  private readonly limiter: TenantLimiter;
  private readonly inFlight: InFlightBytes;

  constructor(private readonly options: OtlpEdgeOptions) {
    this.limiter = new TenantLimiter(options.limits, options.tenants.limits, options.now);
    this.inFlight = new InFlightBytes(options.maxInFlightBytes);
    // An export larger than the whole budget would be refused as retryable forever.
    if (this.largestBodyBytes > options.maxInFlightBytes) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `the in-flight limit (${options.maxInFlightBytes} bytes) must hold the largest export a tenant may send (${this.largestBodyBytes} bytes)`,
      );
    }
    this.meter
      .createObservableGauge('understudy.collector.in_flight_bytes', {
        unit: 'By',
        description: 'Bytes of exports being read, decoded or ingested',
      })
      .addCallback((gauge) => {
        gauge.observe(this.inFlight.used);
      });
  }

  get largestBodyBytes(): number {
    return this.limiter.largestBodyBytes;
  }

  /** The tenant of the API key in `headers` (HTTP headers or gRPC metadata alike). */
  authenticate(headers: IncomingHttpHeaders): string {
    const key = apiKeyOf(headers);
    const tenantId = key === undefined ? undefined : this.options.tenants.tenantOf(key);
    if (tenantId === undefined) {
      throw new UnderstudyError(ErrorCode.Unauthenticated, 'missing or unknown API key');
    }
    trace.getActiveSpan()?.setAttribute('understudy.tenant.id', tenantId);
    return tenantId;
  }

  /** Counts the request against the tenant's rate, before any of its body is read. */
  admit(tenantId: string): Admission {
    const throttle = this.limiter.admit(tenantId);
    if (throttle !== undefined) {
      this.throttled.add(1, { 'understudy.tenant.id': tenantId, limit: throttle.reason });
      throw new UnderstudyError(
        ErrorCode.ResourceExhausted,
        `tenant is over its ${throttle.reason} per second limit`,
        { details: { retryAfterSeconds: throttle.retryAfterSeconds } },
      );
    }
    const { maxBodyBytes } = this.limiter.limitsOf(tenantId);
    return new Admission(tenantId, maxBodyBytes, this.inFlight.reserve());
  }

  /**
   * Decodes a body read under `admission`, holding what it will take decoded before decoding
   * it, and resolves once the ingest has made it durable. The admission is released when the
   * ingest lets go of the export, which may be after a timeout answered the exporter: until
   * then its memory is still in use.
   */
  async export(
    signal: Signal,
    admission: Admission,
    body: Uint8Array,
    encoding: Encoding,
  ): Promise<IngestResult> {
    let ingesting: Promise<IngestResult>;
    let received: number;
    try {
      admission.holdDecoded(decodedSizeOf(signal, body, encoding));
      this.limiter.charge(admission.tenantId, body.byteLength);
      ({ ingesting, received } = this.#ingest(signal, admission.tenantId, body, encoding));
    } catch (error) {
      admission.release();
      throw error;
    }
    const release = (): void => {
      admission.release();
    };
    void ingesting.then(release, release);
    const result = await this.#withinTimeout(ingesting);
    this.records.add(Math.max(0, received - result.rejected), {
      'otlp.signal': signal,
      outcome: 'accepted',
    });
    this.records.add(result.rejected, { 'otlp.signal': signal, outcome: 'rejected' });
    trace.getActiveSpan()?.setAttributes({
      'understudy.collector.records': received,
      'understudy.collector.records.rejected': result.rejected,
    });
    return result;
  }

  /** Counts one export request; `status` is the transport's status code attribute, if known. */
  countExport(
    signal: Signal | undefined,
    outcome: Outcome,
    status: { 'http.response.status_code': number } | { 'rpc.grpc.status_code'?: number },
  ): void {
    const attributes: Attributes = { outcome, ...status };
    if (signal !== undefined) attributes['otlp.signal'] = signal;
    this.exports.add(1, attributes);
  }

  #ingest(
    signal: Signal,
    tenantId: string,
    body: Uint8Array,
    encoding: Encoding,
  ): { ingesting: Promise<IngestResult>; received: number } {
    switch (signal) {
      case 'traces': {
        const request = decodeTraceRequest(body, encoding);
        return {
          ingesting: this.options.ingest.traces(tenantId, request),
          received: spans(request),
        };
      }
      case 'logs': {
        const request = decodeLogsRequest(body, encoding);
        return { ingesting: this.options.ingest.logs(tenantId, request), received: logs(request) };
      }
    }
  }

  async #withinTimeout(ingesting: Promise<IngestResult>): Promise<IngestResult> {
    const { ingestTimeoutMs } = this.options;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new UnderstudyError(
            ErrorCode.Unavailable,
            `ingest did not acknowledge within ${ingestTimeoutMs} ms`,
          ),
        );
      }, ingestTimeoutMs);
    });
    try {
      // The exporter retries the whole export; a late success of this attempt is deduplicated.
      return await Promise.race([ingesting, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function spans(request: otlpTraceService.ExportTraceServiceRequest): number {
  return request.resourceSpans.reduce(
    (sum, resource) =>
      sum + resource.scopeSpans.reduce((inner, scope) => inner + scope.spans.length, 0),
    0,
  );
}

function logs(request: otlpLogsService.ExportLogsServiceRequest): number {
  return request.resourceLogs.reduce(
    (sum, resource) =>
      sum + resource.scopeLogs.reduce((inner, scope) => inner + scope.logRecords.length, 0),
    0,
  );
}
