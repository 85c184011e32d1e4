import { createHash, randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate, timestampNow, type Timestamp } from '@bufbuild/protobuf/wkt';
import { context, propagation } from '@opentelemetry/api';
import { EventMetaSchema, type EventMeta } from '@understudy/contracts';

export interface EventMetaInit {
  readonly tenantId: string;
  readonly producer: string;
  /**
   * Derive it from the fact the event states (`derivedUuid`) so that publishing the same fact
   * again yields the same id and consumers drop the copy; a random UUID otherwise.
   */
  readonly eventId?: string;
  /** When the fact happened; now by default. */
  readonly occurredAt?: Timestamp | Date;
  /** The id of the event that caused this one. */
  readonly causationId?: string;
}

/** A new event's header, carrying the W3C trace context of the active span. */
export function eventMeta(init: EventMetaInit): EventMeta {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const { occurredAt } = init;
  return create(EventMetaSchema, {
    eventId: init.eventId ?? randomUUID(),
    tenantId: init.tenantId,
    occurredAt:
      occurredAt === undefined
        ? timestampNow()
        : occurredAt instanceof Date
          ? timestampFromDate(occurredAt)
          : occurredAt,
    producer: init.producer,
    traceParent: carrier['traceparent'] ?? '',
    traceState: carrier['tracestate'] ?? '',
    causationId: init.causationId ?? '',
  });
}

/** A name-based UUID (RFC 9562 version 8) from the SHA-256 of `name`. */
export function derivedUuid(name: string): string {
  const bytes = createHash('sha256').update(name).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
