import type { ObjectStore } from '@understudy/storage';
import { scanArchivedCalls } from '../scan.js';

/** Every segment key, in key order. */
export async function keys(store: ObjectStore): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of store.list('calls/', { recursive: true })) {
    if (entry.type === 'object') found.push(entry.key);
  }
  return found;
}

/** Call ids a scan of November 2026 yields for the tenant, in scan order. */
export async function scan(store: ObjectStore, tenantId: string): Promise<string[]> {
  const ids: string[] = [];
  const range = { tenantId, from: new Date('2026-11-01Z'), to: new Date('2026-12-01Z') };
  for await (const event of scanArchivedCalls(store, range)) ids.push(event.call?.callId ?? '');
  return ids;
}

/** Calls stored in all segments, duplicates included: the sum of their `count` metadata. */
export async function storedCalls(store: ObjectStore): Promise<number> {
  let total = 0;
  for (const key of await keys(store)) total += Number((await store.stat(key)).metadata['count']);
  return total;
}
