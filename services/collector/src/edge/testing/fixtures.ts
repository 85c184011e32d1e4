import { createHash, randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { otlpLogs, otlpLogsService, type otlpTraceService } from '@understudy/contracts';
import { TenantKeys, type TenantLimits } from '@understudy/tenancy';
import type { Ingest, IngestResult } from '../../domain/ingest.js';
import { anyValue, keyValues } from '../../testing/otlp-requests.js';
import { OtlpEdge, type OtlpEdgeOptions } from '../otlp-edge.js';
import type { Limits } from '../tenant-limiter.js';

/** Keys file content for tenants named by their keys: `{ acme: 'acme-key' }`. */
export function tenantKeys(
  keys: Readonly<Record<string, string>>,
  limits: Readonly<Record<string, TenantLimits>> = {},
): TenantKeys {
  const entries = Object.entries(keys).map(([tenant, key]) => ({
    tenant,
    sha256: createHash('sha256').update(key).digest('hex'),
    ...(limits[tenant] && { limits: limits[tenant] }),
  }));
  return TenantKeys.parse(JSON.stringify(entries), 'keys.json');
}

type Received =
  | { signal: 'traces'; tenantId: string; request: otlpTraceService.ExportTraceServiceRequest }
  | { signal: 'logs'; tenantId: string; request: otlpLogsService.ExportLogsServiceRequest };

/** An `Ingest` that records what it is handed and answers what the test sets. */
export class RecordingIngest implements Ingest {
  readonly received: Received[] = [];
  /** The answer to every export; replace it to reject, stall or report rejected records. */
  answer: () => Promise<IngestResult> = () => Promise.resolve({ rejected: 0, message: '' });

  traces(
    tenantId: string,
    request: otlpTraceService.ExportTraceServiceRequest,
  ): Promise<IngestResult> {
    this.received.push({ signal: 'traces', tenantId, request });
    return this.answer();
  }

  logs(tenantId: string, request: otlpLogsService.ExportLogsServiceRequest): Promise<IngestResult> {
    this.received.push({ signal: 'logs', tenantId, request });
    return this.answer();
  }
}

/** An edge over a recording ingest, with generous limits unless the test narrows them. */
export function testEdge(
  ingest: Ingest,
  options: Partial<Omit<OtlpEdgeOptions, 'limits'>> & { readonly limits?: Partial<Limits> } = {},
): OtlpEdge {
  return new OtlpEdge({
    tenants: tenantKeys({ acme: 'acme-key', globex: 'globex-key' }),
    ingest,
    maxInFlightBytes: 1024 * 1024,
    ingestTimeoutMs: 2_000,
    ...options,
    limits: {
      requestsPerSecond: 1_000,
      bytesPerSecond: 64 * 1024 * 1024,
      maxBodyBytes: 64 * 1024,
      ...options.limits,
    },
  });
}

/** A semconv ≤ 1.36 content event as a log record, linked to a span. */
export function userMessageRecord(content = 'Hello'): otlpLogs.LogRecord {
  return create(otlpLogs.LogRecordSchema, {
    timeUnixNano: 1_750_000_000_000_000_000n,
    eventName: 'gen_ai.user.message',
    body: anyValue({ content }),
    attributes: keyValues({ 'gen_ai.system': 'openai' }),
    traceId: new Uint8Array(randomBytes(16)),
    spanId: new Uint8Array(randomBytes(8)),
  });
}

export function logsRequest(
  records: readonly otlpLogs.LogRecord[],
): otlpLogsService.ExportLogsServiceRequest {
  return create(otlpLogsService.ExportLogsServiceRequestSchema, {
    resourceLogs: [
      {
        resource: { attributes: keyValues({ 'service.name': 'support-agent' }) },
        scopeLogs: [
          { scope: { name: '@opentelemetry/instrumentation-openai' }, logRecords: [...records] },
        ],
      },
    ],
  });
}
