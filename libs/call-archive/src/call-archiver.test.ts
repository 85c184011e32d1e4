import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { InProcessDriver, type MessagingDriver } from '@understudy/messaging';
import { FilesystemDriver, type ObjectStore } from '@understudy/storage';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { CallArchiver } from './call-archiver.js';
import type { ArchiveSettings } from './settings.js';
import { callsTopic, capturedCall, publishCalls, resumePositions } from './testing/calls.js';
import { TappedDriver } from './testing/drivers.js';
import { keys, scan, storedCalls } from './testing/store.js';

const roots: string[] = [];
const running: CallArchiver[] = [];

async function newStore(): Promise<FilesystemDriver> {
  const root = await mkdtemp(join(tmpdir(), 'understudy-call-archive-'));
  roots.push(root);
  const store = new FilesystemDriver({ root });
  await store.init();
  return store;
}

/** A bus with an empty calls topic of that many partitions, and an empty store. */
async function setUp(partitions: number) {
  const driver = new InProcessDriver({ redeliveryDelayMs: 10 });
  const topic = callsTopic(partitions);
  await driver.ensureTopics([topic]);
  return { driver, store: await newStore(), topic };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((archiver) => archiver.stop()));
});

afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

const never = 3_600_000;
const day1 = new Date('2026-11-23T22:00:00Z');
const day2 = new Date('2026-11-24T09:30:00Z');

async function started(
  driver: MessagingDriver,
  store: ObjectStore,
  topic: ReturnType<typeof callsTopic>,
  settings: Partial<ArchiveSettings>,
  group = 'archive',
): Promise<CallArchiver> {
  const archiver = new CallArchiver({
    driver,
    store,
    topic,
    group,
    settings: { maxCalls: 1_000, maxBytes: 1 << 30, maxAgeMs: never, ...settings },
  });
  running.push(archiver);
  await archiver.start();
  return archiver;
}

async function stop(archiver: CallArchiver): Promise<void> {
  running.splice(running.indexOf(archiver), 1);
  await archiver.stop();
}

describe('CallArchiver', () => {
  it('flushes a partition every N calls into one segment per tenant and day, then commits', async () => {
    const { driver, store, topic } = await setUp(1);
    const calls = [
      capturedCall('acme', day1, 'a1'),
      capturedCall('acme', day2, 'a2'),
      capturedCall('beta/β', day2, 'b1'),
      capturedCall('acme', day2, 'a3'),
      capturedCall('acme', day2, 'a4'),
      capturedCall('acme', day2, 'a5'),
      capturedCall('acme', day2, 'a6'),
    ];
    await publishCalls(driver, topic, calls, 'p');
    const archiver = await started(driver, store, topic, { maxCalls: 3 });
    expect(archiver.health()).toEqual({ group: 'archive', connected: true });

    // Offsets 0-2 and 3-5 reach the limit; offset 6 waits for more.
    const segment = (tenant: string, day: string, first: number): string =>
      `calls/tenant=${tenant}/date=${day}/${topic.name}-0-${String(first).padStart(20, '0')}.pb.gz`;
    await vi.waitFor(async () => {
      expect(await keys(store)).toEqual([
        segment('acme', '2026-11-23', 0),
        segment('acme', '2026-11-24', 0),
        segment('acme', '2026-11-24', 3),
        segment('beta%2F%CE%B2', '2026-11-24', 0),
      ]);
    });
    expect((await store.stat(segment('acme', '2026-11-24', 3))).metadata).toEqual({
      count: '3',
      'first-offset': '3',
      'last-offset': '5',
      'end-offset': '6',
    });
    expect((await store.stat(segment('acme', '2026-11-24', 0))).contentType).toBe(
      'application/gzip',
    );
    expect(await scan(store, 'acme')).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(await scan(store, 'beta/β')).toEqual(['b1']);

    await stop(archiver);
    // The stop flushed offset 6 and committed it: nothing is left to read.
    expect(await scan(store, 'acme')).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
    expect(await resumePositions(driver, 'archive', topic)).toEqual(new Map());
  });

  it('flushes a caught-up partition once its buffer waited the maximum age', async () => {
    const { driver, store, topic } = await setUp(2);
    await started(driver, store, topic, { maxAgeMs: 100 });
    const ids = Array.from({ length: 20 }, (_, i) => `call-${i}`);
    await publishCalls(
      driver,
      topic,
      ids.map((id) => capturedCall('acme', day2, id)),
    );
    await vi.waitFor(async () => {
      expect((await scan(store, 'acme')).sort()).toEqual([...ids].sort());
    });
    await vi.waitFor(async () => {
      expect(await resumePositions(driver, 'archive', topic, 50)).toEqual(new Map());
    });
  });

  it('flushes when the records span the maximum age of Kafka time, or fill the byte limit', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: day2 });
    try {
      const { driver, store, topic } = await setUp(1);
      await publishCalls(driver, topic, [capturedCall('acme', day2, 'early')], 'p');
      vi.setSystemTime(day2.getTime() + 60_000);
      await publishCalls(driver, topic, [capturedCall('acme', day2, 'late')], 'p');
      // The idle flush never comes: the clock stands still.
      await started(driver, store, topic, { maxAgeMs: 60_000 });
      await vi.waitFor(async () => {
        expect(await keys(store)).toHaveLength(1);
      });
      expect((await store.stat((await keys(store))[0]!)).metadata['count']).toBe('2');

      const bytesStore = await newStore();
      await started(driver, bytesStore, topic, { maxBytes: 1 }, 'by-bytes');
      await vi.waitFor(async () => {
        expect(await keys(bytesStore)).toHaveLength(2);
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('after a crash between upload and commit, rewrites the same keys with a superset and no duplicates', async () => {
    const { driver, store, topic } = await setUp(1);
    await publishCalls(
      driver,
      topic,
      ['c1', 'c2', 'c3'].map((id) => capturedCall('acme', day2, id)),
      'p',
    );
    const crashing = new TappedDriver(driver, true);
    const crashed = await started(crashing, store, topic, { maxAgeMs: 50 });
    await vi.waitFor(async () => {
      expect(await keys(store)).toHaveLength(1);
      expect(crashing.failedCommits).toBeGreaterThan(0);
    });
    const [key] = await keys(store);
    expect((await store.stat(key!)).metadata).toMatchObject({ count: '3', 'end-offset': '3' });
    await stop(crashed);

    // Nothing was committed: the next run reads from offset 0 again, with two calls more. c4 was
    // published over maxAgeMs after c1, so the re-read batch ends at c4: a superset under the
    // same key; c5 goes to the next segment.
    await publishCalls(
      driver,
      topic,
      ['c4', 'c5'].map((id) => capturedCall('acme', day2, id)),
      'p',
    );
    await started(driver, store, topic, { maxAgeMs: 50 });
    await vi.waitFor(async () => {
      expect(await keys(store)).toHaveLength(2);
    });
    expect(await keys(store)).toEqual([key, key!.replace(/0\.pb\.gz$/, '4.pb.gz')]);
    expect((await store.stat(key!)).metadata).toMatchObject({ count: '4', 'end-offset': '4' });
    expect(await scan(store, 'acme')).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
    expect(await storedCalls(store)).toBe(5);
  });

  it('never replaces a segment with one covering less', async () => {
    const { driver, store, topic } = await setUp(1);
    await publishCalls(
      driver,
      topic,
      ['c1', 'c2', 'c3', 'c4'].map((id) => capturedCall('acme', day2, id)),
      'p',
    );
    // A run with a larger limit wrote offsets 0-3 and crashed before its commit.
    const crashing = new TappedDriver(driver, true);
    const crashed = await started(crashing, store, topic, {});
    await vi.waitFor(() => {
      expect(crashing.delivered.get(0)).toBe(4);
    });
    await stop(crashed);
    const [key] = await keys(store);
    expect((await store.stat(key!)).metadata).toMatchObject({ count: '4' });

    // The next run, configured with a smaller limit, cuts after two: the segment keeps four.
    const archiver = await started(driver, store, topic, { maxCalls: 2 });
    await vi.waitFor(async () => {
      expect(await keys(store)).toHaveLength(2);
    });
    await stop(archiver);
    expect((await store.stat(key!)).metadata).toMatchObject({ count: '4', 'end-offset': '4' });
    expect(await scan(store, 'acme')).toEqual(['c1', 'c2', 'c3', 'c4']);
  });

  it('drops the buffers of partitions it loses, and stops leaving nothing behind', async () => {
    const { driver, store, topic } = await setUp(2);
    const ids = Array.from({ length: 30 }, (_, i) => `call-${i}`);
    await publishCalls(
      driver,
      topic,
      ids.map((id) => capturedCall('acme', day2, id)),
    );
    const tap = new TappedDriver(driver);
    const first = await started(tap, store, topic, {});
    // Both partitions are read, and buffered, by the first member alone.
    await vi.waitFor(() => {
      expect(tap.delivered.get(0)! + tap.delivered.get(1)!).toBe(30);
    });
    const inFirstPartition = tap.delivered.get(0)!;
    const second = await started(driver, store, topic, {});
    // The rebalance leaves it partition 0, read again from the commit.
    await vi.waitFor(() => {
      expect(tap.delivered.get(0)).toBe(2 * inFirstPartition);
    });
    await stop(first);
    // The first member kept partition 0 only, so that is all its stop could write.
    const written = await keys(store);
    expect(written.length).toBeGreaterThan(0);
    expect(written.every((key) => key.includes(`${topic.name}-0-`))).toBe(true);
    await stop(second);
    expect((await scan(store, 'acme')).sort()).toEqual([...ids].sort());
    expect(await storedCalls(store)).toBe(30);
  });

  it('skips records it cannot archive, counting them as done', async () => {
    const { driver, store, topic } = await setUp(1);
    await publishCalls(
      driver,
      topic,
      [
        new Uint8Array([0xff, 0xff]),
        capturedCall('', day2, 'no-tenant'),
        capturedCall('t'.repeat(300), day2, 'tenant-too-long'),
        capturedCall('acme', day2, 'good'),
      ],
      'p',
    );
    await started(driver, store, topic, { maxCalls: 4 });
    await vi.waitFor(async () => {
      expect(await scan(store, 'acme')).toEqual(['good']);
    });
    expect((await store.stat((await keys(store))[0]!)).metadata).toMatchObject({
      count: '1',
      'first-offset': '3',
      'end-offset': '4',
    });
    await vi.waitFor(async () => {
      expect(await resumePositions(driver, 'archive', topic, 50)).toEqual(new Map());
    });
  });

  it('retries a flush the store refused, without losing or repeating calls', async () => {
    const driver = new InProcessDriver({ redeliveryDelayMs: 10 });
    const store = new FlakyStore(await newStore(), 2);
    const topic = callsTopic(1);
    await driver.ensureTopics([topic]);
    const ids = ['c1', 'c2', 'c3', 'c4'];
    await publishCalls(
      driver,
      topic,
      ids.map((id) => capturedCall('acme', day2, id)),
      'p',
    );
    await started(driver, store, topic, { maxCalls: 2 });
    await vi.waitFor(async () => {
      expect(await scan(store, 'acme')).toEqual(ids);
    });
    expect(store.refused).toBe(2);
    expect(await storedCalls(store)).toBe(4);
  });
});

/** Refuses the first puts, as an overloaded store does. */
class FlakyStore implements ObjectStore {
  refused = 0;

  constructor(
    private readonly inner: ObjectStore,
    private failures: number,
  ) {}

  init = (): Promise<void> => this.inner.init();
  get: ObjectStore['get'] = (key) => this.inner.get(key);
  getRange: ObjectStore['getRange'] = (key, range) => this.inner.getRange(key, range);
  stat: ObjectStore['stat'] = (key) => this.inner.stat(key);
  exists: ObjectStore['exists'] = (key) => this.inner.exists(key);
  delete: ObjectStore['delete'] = (key) => this.inner.delete(key);
  list: ObjectStore['list'] = (prefix, options) => this.inner.list(prefix, options);

  put: ObjectStore['put'] = (key, body, options) => {
    if (this.failures > 0) {
      this.failures -= 1;
      this.refused += 1;
      return Promise.reject(new UnderstudyError(ErrorCode.Unavailable, 'slow down'));
    }
    return this.inner.put(key, body, options);
  };
}
