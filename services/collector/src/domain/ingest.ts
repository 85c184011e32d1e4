import type { otlpLogsService, otlpTraceService } from '@understudy/contracts';

/** What an export left out: records that cannot be real (e.g. spans without ids), and why. */
export interface IngestResult {
  readonly rejected: number;
  readonly message: string;
}

/**
 * What the OTLP edge hands each authenticated, decoded export to. Resolves only once everything
 * accepted from the export is durable; rejects with an `Unavailable` UnderstudyError when it
 * cannot be made durable right now (the exporter retries).
 */
export interface Ingest {
  traces(
    tenantId: string,
    request: otlpTraceService.ExportTraceServiceRequest,
  ): Promise<IngestResult>;
  logs(tenantId: string, request: otlpLogsService.ExportLogsServiceRequest): Promise<IngestResult>;
}
