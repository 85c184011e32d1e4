import type { EventMeta } from '@understudy/contracts';
import { derivedUuid, eventMeta as newEventMeta } from '@understudy/messaging';

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
  return newEventMeta({
    tenantId,
    producer,
    eventId: derivedUuid(`${producer}:${taskId}:${String(revision)}`),
    causationId,
  });
}
