import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessDriver } from '@understudy/messaging';
import { FilesystemDriver } from '@understudy/storage';
import { MetricsProbe } from '@understudy/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CallArchiver } from './call-archiver.js';
import { callsTopic, capturedCall, publishCalls } from './testing/calls.js';

let probe: MetricsProbe;
let root: string;

beforeAll(async () => {
  probe = MetricsProbe.install('understudy.archive');
  root = await mkdtemp(join(tmpdir(), 'understudy-call-archive-metrics-'));
});

afterAll(async () => {
  probe.uninstall();
  await rm(root, { recursive: true, force: true });
});

describe('archive metrics', () => {
  it('counts archived calls, bytes, segments and rejects, and times flushes by trigger', async () => {
    const driver = new InProcessDriver({ redeliveryDelayMs: 10 });
    const store = new FilesystemDriver({ root });
    await store.init();
    const topic = callsTopic(1);
    await driver.ensureTopics([topic]);
    const at = new Date('2026-11-24T10:00:00Z');
    await publishCalls(
      driver,
      topic,
      [capturedCall('a', at), capturedCall('b', at), new Uint8Array([0xff]), capturedCall('a', at)],
      'p',
    );
    const archiver = new CallArchiver({
      driver,
      store,
      topic,
      settings: { maxCalls: 2, maxBytes: 1 << 30, maxAgeMs: 3_600_000 },
    });
    await archiver.start();
    await vi.waitFor(async () => {
      expect(await probe.total('understudy.archive.segments')).toBe(3);
    });
    await archiver.stop();

    expect(await probe.total('understudy.archive.calls')).toBe(3);
    expect(await probe.total('understudy.archive.calls.rejected')).toBe(1);
    let size = 0;
    for await (const entry of store.list('calls/', { recursive: true })) {
      if (entry.type === 'object') size += entry.size;
    }
    expect(await probe.total('understudy.archive.bytes')).toBe(size);
    const flushes = await probe.histogram('understudy.archive.flush.duration');
    expect(flushes.map((point) => [point.attributes['trigger'], point.value.count])).toEqual([
      ['calls', 2],
    ]);
  });
});
