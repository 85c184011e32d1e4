import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { context, propagation } from '@opentelemetry/api';
import { EventMetaSchema, type EventMeta } from '@understudy/contracts';
import { sha256Hex } from './domain/hashing.js';

export const producer = 'embedder';

/**
 * The header of an event caused by `cause`. The event id is derived from the cause's, so a
 * redelivered CallCaptured yields the same CallEmbedded id and consumers drop the duplicate.
 */
export function eventMeta(tenantId: string, cause: EventMeta | undefined, call: string): EventMeta {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const causationId = cause?.eventId ?? '';
  return create(EventMetaSchema, {
    eventId: derivedUuid(`${producer}:${causationId || call}`),
    tenantId,
    occurredAt: cause?.occurredAt ?? timestampNow(),
    producer,
    traceParent: carrier['traceparent'] ?? '',
    traceState: carrier['tracestate'] ?? '',
    causationId,
  });
}

/** A UUID (version 8, RFC 9562) from the SHA-256 of `name`. */
export function derivedUuid(name: string): string {
  const hex = sha256Hex(name).slice(0, 32).split('');
  hex[12] = '8';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
