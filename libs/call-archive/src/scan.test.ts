import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FilesystemDriver } from '@understudy/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanArchivedCalls, type ScanRange } from './scan.js';
import {
  SEGMENT_CONTENT_TYPE,
  compressSegment,
  decodeSegment,
  encodeCall,
  segmentKey,
} from './segment.js';
import { capturedCall } from './testing/calls.js';

let root: string;
let store: FilesystemDriver;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'understudy-call-archive-scan-'));
  store = new FilesystemDriver({ root });
  await store.init();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const topic = 'understudy.calls.captured.v1';

async function writeSegment(
  tenantId: string,
  day: string,
  firstOffset: bigint,
  calls: readonly [string, Date][],
  count = calls.length,
): Promise<string> {
  const key = segmentKey({ tenantId, day, topic, partition: 3, firstOffset });
  const body = await compressSegment(
    calls.map(([id, at]) => encodeCall(capturedCall(tenantId, at, id))),
  );
  await store.put(key, body, {
    contentType: SEGMENT_CONTENT_TYPE,
    metadata: { count: String(count) },
  });
  return key;
}

async function scan(range: ScanRange): Promise<string[]> {
  const ids: string[] = [];
  for await (const event of scanArchivedCalls(store, range)) ids.push(event.call?.callId ?? '');
  return ids;
}

describe('segment layout', () => {
  it('partitions keys by encoded tenant and UTC day, ordered by offset', () => {
    expect(
      segmentKey({
        tenantId: 'acme corp/eu',
        day: '2026-11-24',
        topic,
        partition: 11,
        firstOffset: 42n,
      }),
    ).toBe(
      'calls/tenant=acme%20corp%2Feu/date=2026-11-24/understudy.calls.captured.v1-11-00000000000000000042.pb.gz',
    );
    expect(() =>
      segmentKey({
        tenantId: 'é'.repeat(60),
        day: '2026-11-24',
        topic,
        partition: 0,
        firstOffset: 0n,
      }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error);
  });

  it('round-trips calls through a gzip segment', async () => {
    const calls = [capturedCall('acme', new Date(), 'x'), capturedCall('acme', new Date(), 'y')];
    const body = await compressSegment(calls.map(encodeCall));
    const decoded = [];
    for await (const event of decodeSegment(Readable.from([body]))) decoded.push(event);
    expect(decoded).toEqual(calls);
  });
});

describe('scanArchivedCalls', () => {
  it('reads the days of the range, keeps calls inside it and yields each call once', async () => {
    await writeSegment('scan', '2026-11-22', 0n, [['before', new Date('2026-11-22T23:59:59Z')]]);
    await writeSegment('scan', '2026-11-23', 0n, [
      ['early', new Date('2026-11-23T05:00:00Z')],
      ['a', new Date('2026-11-23T12:00:00Z')],
    ]);
    // A segment of an earlier flush, repeated with other limits, overlaps the next one.
    await writeSegment('scan', '2026-11-23', 5n, [
      ['a', new Date('2026-11-23T12:00:00Z')],
      ['b', new Date('2026-11-23T13:00:00Z')],
    ]);
    await writeSegment('scan', '2026-11-25', 7n, [['c', new Date('2026-11-25T01:00:00Z')]]);
    await writeSegment('other', '2026-11-23', 0n, [['theirs', new Date('2026-11-23T12:00:00Z')]]);

    expect(
      await scan({
        tenantId: 'scan',
        from: new Date('2026-11-23T06:00:00Z'),
        to: new Date('2026-11-25T01:00:00Z'),
      }),
    ).toEqual(['a', 'b']);
    expect(
      await scan({
        tenantId: 'scan',
        from: new Date('2026-11-22T00:00:00Z'),
        to: new Date('2026-11-26T00:00:00Z'),
      }),
    ).toEqual(['before', 'early', 'a', 'b', 'c']);
  });

  it('refuses an empty range', async () => {
    const at = new Date('2026-11-23T00:00:00Z');
    await expect(scan({ tenantId: 'scan', from: at, to: at })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('reports a truncated segment, a wrong count and a misplaced call as data loss', async () => {
    const day = '2026-10-01';
    const range = {
      tenantId: 'bad',
      from: new Date(`${day}T00:00:00Z`),
      to: new Date(`${day}T23:00:00Z`),
    };
    const at = new Date(`${day}T10:00:00Z`);

    const truncated = await writeSegment('bad', day, 0n, [['t', at]]);
    const body = await compressSegment([encodeCall(capturedCall('bad', at, 't'))]);
    await store.put(truncated, body.subarray(0, body.length - 4), { metadata: { count: '1' } });
    await expect(scan(range)).rejects.toMatchObject({
      code: 'DATA_LOSS',
      details: { key: truncated },
    });
    await store.delete(truncated);

    const miscounted = await writeSegment('bad', day, 1n, [['m', at]], 2);
    await expect(scan(range)).rejects.toMatchObject({
      code: 'DATA_LOSS',
      details: { key: miscounted },
    });
    await store.delete(miscounted);

    const misplaced = await writeSegment('bad', day, 2n, [['p', new Date('2026-10-02T10:00:00Z')]]);
    await expect(scan(range)).rejects.toMatchObject({
      code: 'DATA_LOSS',
      details: { key: misplaced },
    });
  });
});
