import type { CallCaptured } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { ObjectStore } from '@understudy/storage';
import {
  SEGMENT_SUFFIX,
  SegmentMetadata,
  callTenant,
  callTime,
  datePrefix,
  decodeSegment,
  utcDay,
} from './segment.js';

export interface ScanRange {
  readonly tenantId: string;
  /** Calls that started at or after `from` and before `to`. */
  readonly from: Date;
  readonly to: Date;
}

const dayMs = 24 * 60 * 60 * 1000;

/**
 * A tenant's archived calls that started in [from, to): day by day, and within a day by
 * partition and offset (not by time). Each segment is checked (gzip CRC, call count, tenant and
 * day of every call); a segment that fails is DATA_LOSS. A call archived twice (segments of a
 * flush repeated with other limits) is yielded once: call ids seen are kept for the whole scan,
 * about 100 bytes each.
 */
export async function* scanArchivedCalls(
  store: ObjectStore,
  range: ScanRange,
): AsyncGenerator<CallCaptured> {
  const { tenantId, from, to } = range;
  if (tenantId === '' || !(from.getTime() < to.getTime())) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'a scan needs a tenant and a range whose start is before its end',
      { details: { tenantId, from: from.toISOString(), to: to.toISOString() } },
    );
  }
  const seen = new Set<string>();
  const lastDay = utcDay(new Date(to.getTime() - 1));
  for (let at = from.getTime(); ; at += dayMs) {
    const day = utcDay(new Date(at));
    for await (const entry of store.list(datePrefix(tenantId, day), { recursive: true })) {
      if (entry.type !== 'object' || !entry.key.endsWith(SEGMENT_SUFFIX)) continue;
      for await (const event of readSegment(store, entry.key, tenantId, day)) {
        const time = callTime(event);
        if (
          time !== undefined &&
          (time.getTime() < from.getTime() || time.getTime() >= to.getTime())
        )
          continue;
        const callId = event.call?.callId ?? '';
        if (seen.has(callId)) continue;
        seen.add(callId);
        yield event;
      }
    }
    if (day === lastDay) break;
  }
}

async function* readSegment(
  store: ObjectStore,
  key: string,
  tenantId: string,
  day: string,
): AsyncGenerator<CallCaptured> {
  const expected = Number((await store.stat(key)).metadata[SegmentMetadata.Count]);
  let count = 0;
  try {
    for await (const event of decodeSegment(await store.get(key))) {
      count += 1;
      const time = callTime(event);
      if (callTenant(event) !== tenantId || (time !== undefined && utcDay(time) !== day)) {
        throw new Error(`call ${event.call?.callId ?? ''} is not of tenant ${tenantId} on ${day}`);
      }
      yield event;
    }
  } catch (error) {
    // The store's own failures (an unreachable server) keep their code.
    if (error instanceof UnderstudyError) throw error;
    throw corrupt(key, error instanceof Error ? error.message : String(error), error);
  }
  if (count !== expected) throw corrupt(key, `holds ${count} calls, its metadata ${expected}`);
}

function corrupt(key: string, reason: string, cause?: unknown): UnderstudyError {
  return new UnderstudyError(
    ErrorCode.DataLoss,
    `archive segment ${key} is unreadable: ${reason}`,
    {
      details: { key },
      ...(cause !== undefined && { cause }),
    },
  );
}
