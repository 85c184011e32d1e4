import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { context, propagation } from '@opentelemetry/api';
import { EventMetaSchema, type EventMeta } from '@understudy/contracts';
import { createHash } from 'node:crypto';

export const producer = 'clusterer';

/**
 * The header of the event announcing `revision` of a task: the id is derived from both, so an
 * announcement published twice (a crash between publish and commit) is dropped by consumers.
 */
export function eventMeta(
  tenantId: string,
  taskId: string,
  revision: number,
  causationId: string,
): EventMeta {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return create(EventMetaSchema, {
    eventId: derivedUuid(`${producer}:${taskId}:${String(revision)}`),
    tenantId,
    occurredAt: timestampNow(),
    producer,
    traceParent: carrier['traceparent'] ?? '',
    traceState: carrier['tracestate'] ?? '',
    causationId,
  });
}

/** A UUID (version 8, RFC 9562) from the SHA-256 of `name`. */
export function derivedUuid(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex').slice(0, 32).split('');
  hex[12] = '8';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
