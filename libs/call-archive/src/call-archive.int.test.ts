import { randomBytes } from 'node:crypto';
import { isRetryable } from '@understudy/errors';
import { KafkaDriver } from '@understudy/messaging';
import { MinioDriver } from '@understudy/storage';
import { uniqueName } from '@understudy/testbed';
import { afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { CallArchiver } from './call-archiver.js';
import type { ArchiveSettings } from './settings.js';
import { callsTopic, capturedCall, publishCalls, resumePositions } from './testing/calls.js';
import { TappedDriver } from './testing/drivers.js';
import { keys, scan, storedCalls } from './testing/store.js';

const { kafka, s3 } = inject('testbed');
const store = new MinioDriver({
  ...s3,
  bucket: `call-archive-int-${randomBytes(4).toString('hex')}`,
  createBucket: true,
});
const running: CallArchiver[] = [];
const settings: ArchiveSettings = { maxCalls: 10, maxBytes: 1 << 30, maxAgeMs: 500 };

beforeAll(async () => {
  // A MinIO that just came up answers 503 for a moment after its health check passes.
  for (const deadline = Date.now() + 30_000; ;) {
    try {
      await store.init();
      return;
    } catch (error) {
      if (!isRetryable(error) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((archiver) => archiver.stop()));
});

function kafkaDriver(): KafkaDriver {
  return new KafkaDriver({ brokers: kafka.brokers, clientId: uniqueName('archive') });
}

async function started(archiver: CallArchiver): Promise<CallArchiver> {
  running.push(archiver);
  await archiver.start();
  return archiver;
}

async function stop(archiver: CallArchiver): Promise<void> {
  running.splice(running.indexOf(archiver), 1);
  await archiver.stop();
}

describe('CallArchiver against Kafka and MinIO', () => {
  it('archives every call once, commits, and after a crash before the commit rewrites the same keys', async () => {
    const driver = kafkaDriver();
    const topic = callsTopic(3);
    const group = uniqueName('archive');
    const tenant = uniqueName('tenant');
    const prefix = `calls/tenant=${tenant}/`;
    const tenantKeys = async (): Promise<string[]> =>
      (await keys(store)).filter((key) => key.startsWith(prefix));
    await driver.ensureTopics([topic]);
    const ids = Array.from({ length: 45 }, (_, i) => `call-${String(i).padStart(2, '0')}`);
    const days = [new Date('2026-11-23T12:00:00Z'), new Date('2026-11-24T12:00:00Z')];
    await publishCalls(
      driver,
      topic,
      ids.map((id, i) => capturedCall(tenant, days[i % 2]!, id)),
    );

    // The first run uploads but every commit fails, as if it died right after each upload: each
    // partition gets stuck at its first flush (10 calls, or fewer once caught up).
    const crashing = new TappedDriver(kafkaDriver(), true);
    const crashed = await started(
      new CallArchiver({ driver: crashing, store, topic, group, settings }),
    );
    await vi.waitFor(
      async () => {
        const written = await tenantKeys();
        for (const partition of [0, 1, 2]) {
          expect(written.some((key) => key.includes(`/${topic.name}-${partition}-0`))).toBe(true);
        }
      },
      { timeout: 30_000, interval: 200 },
    );
    await stop(crashed);
    expect(crashing.failedCommits).toBeGreaterThan(0);
    const written = await tenantKeys();
    const before = new Map(
      await Promise.all(
        written.map(async (key) => [key, (await store.stat(key)).metadata] as const),
      ),
    );
    expect(await resumePositions(driver, group, topic, 2_000)).toEqual(
      new Map([0, 1, 2].map((partition) => [partition, '0'])),
    );

    // The next run starts over from offset 0 of every partition: the same first segments (left
    // as they are, since they already cover the same range), then the rest, each call once.
    const archiver = await started(
      new CallArchiver({ driver: kafkaDriver(), store, topic, group, settings }),
    );
    expect(archiver.health()).toMatchObject({ group, connected: true });
    await vi.waitFor(
      async () => {
        expect(await resumePositions(driver, group, topic, 1_000)).toEqual(new Map());
      },
      { timeout: 30_000, interval: 500 },
    );
    const after = await tenantKeys();
    expect(after).toEqual(expect.arrayContaining(written));
    for (const [key, metadata] of before) {
      expect((await store.stat(key)).metadata).toEqual(metadata);
    }
    expect((await scan(store, tenant)).sort()).toEqual(ids);
    // The bucket is this test's alone: no call is stored twice.
    expect(await storedCalls(store)).toBe(45);
  });
});
