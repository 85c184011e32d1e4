import { createHash } from 'node:crypto';

/**
 * The deterministic call id of calls.proto: the same span exported twice (exporter retries,
 * several exporters) yields the same id, so downstream consumers deduplicate by it.
 */
export function callIdOf(tenantId: string, traceId: string, spanId: string): string {
  return createHash('sha256')
    .update(`${tenantId}:${traceId}:${spanId}`, 'utf8')
    .digest('hex')
    .slice(0, 32);
}
