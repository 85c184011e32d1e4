import type { EventMeta } from '@understudy/contracts';
import { derivedUuid, eventMeta as newEventMeta } from '@understudy/messaging';

export const producer = 'embedder';

/**
 * The header of an event caused by `cause`. The event id is derived from the cause's, so a
 * redelivered CallCaptured yields the same CallEmbedded id and consumers drop the duplicate.
 */
export function eventMeta(tenantId: string, cause: EventMeta | undefined, call: string): EventMeta {
  const causationId = cause?.eventId ?? '';
  return newEventMeta({
    tenantId,
    producer,
    eventId: derivedUuid(`${producer}:${causationId || call}`),
    ...(cause?.occurredAt !== undefined && { occurredAt: cause.occurredAt }),
    causationId,
  });
}
