import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsProbe } from '@understudy/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemDriver } from './filesystem-driver.js';

let probe: MetricsProbe;
let root: string;

beforeAll(async () => {
  probe = MetricsProbe.install('understudy.storage');
  root = await mkdtemp(join(tmpdir(), 'understudy-storage-metrics-'));
});

afterAll(async () => {
  probe.uninstall();
  await rm(root, { recursive: true, force: true });
});

describe('storage metrics', () => {
  it('counts bytes written and read, and times operations by outcome', async () => {
    const store = new FilesystemDriver({ root });
    await store.init();
    await store.put('m/one', Buffer.alloc(1000, 1));
    for await (const chunk of await store.get('m/one')) expect((chunk as Buffer).length).toBe(1000);
    await expect(store.stat('m/missing')).rejects.toThrow();

    const written = await probe.metric('understudy.storage.bytes.written');
    expect(written?.dataPoints[0]).toMatchObject({
      value: 1000,
      attributes: { 'storage.driver': 'filesystem' },
    });
    const read = await probe.metric('understudy.storage.bytes.read');
    expect(read?.dataPoints[0]?.value).toBe(1000);

    const points = await probe.histogram('understudy.storage.operation.duration');
    const byOperation = points.map((point) => ({ ...point.attributes, count: point.value.count }));
    expect(byOperation).toEqual(
      expect.arrayContaining([
        { 'storage.driver': 'filesystem', 'storage.operation': 'put', count: 1 },
        { 'storage.driver': 'filesystem', 'storage.operation': 'get', count: 1 },
        {
          'storage.driver': 'filesystem',
          'storage.operation': 'stat',
          'error.type': 'NOT_FOUND',
          count: 1,
        },
      ]),
    );
  });
});
