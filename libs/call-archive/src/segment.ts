import { createGunzip, gzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { sizeDelimitedDecodeStream, sizeDelimitedEncode } from '@bufbuild/protobuf/wire';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { CallCapturedSchema, type CallCaptured } from '@understudy/contracts';
import { validateKey } from '@understudy/storage';

/**
 * Where archived calls live and how a segment is encoded.
 *
 * Key: `calls/tenant=<tenant>/date=<YYYY-MM-DD>/<topic>-<partition>-<first offset>.pb.gz`, the
 * tenant percent-encoded (encodeURIComponent), the date the call's start in UTC, the offset the
 * first record the segment's flush covered, zero-padded to 20 digits so keys list in offset
 * order. Body: gzip of size-delimited (varint length + binary) `understudy.v1.CallCaptured`.
 */
export const ARCHIVE_ROOT = 'calls';
export const SEGMENT_SUFFIX = '.pb.gz';
export const SEGMENT_CONTENT_TYPE = 'application/gzip';

/** Object metadata of a segment; offsets are decimal strings. */
export const SegmentMetadata = {
  /** Calls in the segment. */
  Count: 'count',
  /** Offsets of the segment's first and last call. */
  FirstOffset: 'first-offset',
  LastOffset: 'last-offset',
  /**
   * The segment holds every call of its tenant and date from partition offsets
   * [offset in the key, end-offset): a rewrite covering less never replaces it.
   */
  EndOffset: 'end-offset',
} as const;

const gzipAsync = promisify(gzip);

/** The prefix holding a tenant's segments of one UTC day (`day` is `YYYY-MM-DD`). */
export function datePrefix(tenantId: string, day: string): string {
  return `${ARCHIVE_ROOT}/tenant=${encodeURIComponent(tenantId)}/date=${day}/`;
}

export interface SegmentLocation {
  readonly tenantId: string;
  /** `YYYY-MM-DD`, UTC. */
  readonly day: string;
  readonly topic: string;
  readonly partition: number;
  /** The first offset of the flushed range. */
  readonly firstOffset: bigint;
}

/**
 * The object key of a segment. Throws InvalidArgument when it breaks the store's key rules
 * (only a tenant id of about 240 bytes or more, once percent-encoded, can).
 */
export function segmentKey(location: SegmentLocation): string {
  const { tenantId, day, topic, partition, firstOffset } = location;
  const offset = firstOffset.toString().padStart(20, '0');
  const key = `${datePrefix(tenantId, day)}${topic}-${partition}-${offset}${SEGMENT_SUFFIX}`;
  validateKey(key);
  return key;
}

/** `YYYY-MM-DD` of an instant, in UTC. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** When the call happened: its start, else when its event occurred; undefined when neither is set. */
export function callTime(event: CallCaptured): Date | undefined {
  const at = event.call?.timing?.startTime ?? event.meta?.occurredAt;
  return at === undefined ? undefined : timestampDate(at);
}

/** The tenant of the call, from the call or else from its event envelope; '' when neither says. */
export function callTenant(event: CallCaptured): string {
  return event.call?.tenantId || event.meta?.tenantId || '';
}

/** One call as a segment holds it: its size as a varint, then its binary encoding. */
export function encodeCall(event: CallCaptured): Uint8Array {
  return sizeDelimitedEncode(CallCapturedSchema, event);
}

export function compressSegment(calls: readonly Uint8Array[]): Promise<Buffer> {
  return gzipAsync(Buffer.concat(calls));
}

/**
 * The calls of a segment body, streamed. gzip's CRC-32 and length trailer make a truncated or
 * corrupted body fail here rather than yield a partial read.
 */
export function decodeSegment(body: Readable): AsyncIterable<CallCaptured> {
  const gunzip = createGunzip();
  body.on('error', (error) => gunzip.destroy(error));
  // A reader that stops early releases the file or connection.
  gunzip.on('close', () => body.destroy());
  return sizeDelimitedDecodeStream(CallCapturedSchema, body.pipe(gunzip));
}
