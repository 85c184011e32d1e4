import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metrics } from '@opentelemetry/api';
import {
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemDriver } from './filesystem-driver.js';

class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const reader = new TestReader();
let root: string;

beforeAll(async () => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  root = await mkdtemp(join(tmpdir(), 'understudy-storage-metrics-'));
});

afterAll(async () => {
  metrics.disable();
  await rm(root, { recursive: true, force: true });
});

async function collected(name: string): Promise<MetricData | undefined> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics
    .filter((scope) => scope.scope.name === 'understudy.storage')
    .flatMap((scope) => scope.metrics)
    .find((metric) => metric.descriptor.name === name);
}

describe('storage metrics', () => {
  it('counts bytes written and read, and times operations by outcome', async () => {
    const store = new FilesystemDriver({ root });
    await store.init();
    await store.put('m/one', Buffer.alloc(1000, 1));
    for await (const chunk of await store.get('m/one')) expect((chunk as Buffer).length).toBe(1000);
    await expect(store.stat('m/missing')).rejects.toThrow();

    const written = await collected('understudy.storage.bytes.written');
    expect(written?.dataPoints[0]).toMatchObject({
      value: 1000,
      attributes: { 'storage.driver': 'filesystem' },
    });
    const read = await collected('understudy.storage.bytes.read');
    expect(read?.dataPoints[0]?.value).toBe(1000);

    const duration = await collected('understudy.storage.operation.duration');
    const points = (duration?.dataPoints ?? []) as DataPoint<Histogram>[];
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
