import type { EventMeta } from '@understudy/contracts';
import { eventMeta } from '@understudy/messaging';

export const producer = 'clusterer';

/**
 * The header of a TaskEvent. Random ids are enough: an event is written once, to the outbox, and
 * republishing it after a crash sends the same bytes, id included.
 */
export function taskEventMeta(tenantId: string): EventMeta {
  return eventMeta({ tenantId, producer });
}
