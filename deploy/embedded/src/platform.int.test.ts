import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { create } from '@bufbuild/protobuf';
import { loadConfig } from '@understudy/config';
import {
  CallCapturedSchema,
  EventMetaSchema,
  Health,
  LlmCallSchema,
  HealthCheckResponse_ServingStatus,
} from '@understudy/contracts';
import { createClient } from '@understudy/grpc';
import { topics } from '@understudy/messaging';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedConfig } from './config.js';
import { startPlatform, type Platform } from './platform.js';

describe('embedded platform', () => {
  let dataDir: string;
  let platform: Platform | undefined;

  const boot = () =>
    startPlatform(
      loadConfig(embeddedConfig, {
        UNDERSTUDY_DATA_DIR: dataDir,
        UNDERSTUDY_GRPC_PORT: '0',
        UNDERSTUDY_OPS_PORT: '0',
      }),
    );

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'understudy-embedded-'));
    // As root the cluster runs as `postgres`, which must be able to enter the data dir.
    await chmod(dataDir, 0o755);
  });

  afterAll(async () => {
    await platform?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts every piece and reports ready', async () => {
    platform = await boot();
    const ready = await fetch(`${platform.opsUrl}/readyz`);
    const report = (await ready.json()) as { checks: Record<string, { healthy: boolean }> };
    expect(ready.status).toBe(200);
    expect(Object.keys(report.checks).sort()).toEqual(['messaging', 'postgres']);

    const health = createClient(Health, platform.grpcAddress);
    try {
      const answer = await health.check({ service: '' });
      expect(answer.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      health.close();
    }

    const metrics = await (await fetch(`${platform.opsUrl}/metrics`)).text();
    expect(metrics).toContain('process_memory_usage');
  });

  it('carries events on the in-process bus and keeps objects in the data dir', async () => {
    if (platform === undefined) throw new Error('platform did not start');
    const seen: string[] = [];
    platform.messaging.on(topics.callsCaptured, { group: 'probe' }, (event) => {
      seen.push(event.meta?.eventId ?? '');
      return Promise.resolve();
    });
    await platform.messaging.start();
    await platform.messaging.publish(
      topics.callsCaptured,
      create(CallCapturedSchema, {
        meta: create(EventMetaSchema, { eventId: 'e-1', tenantId: 't-1', producer: 'test' }),
        call: create(LlmCallSchema, { tenantId: 't-1', callId: 'c-1' }),
      }),
    );
    await expect.poll(() => seen).toEqual(['e-1']);

    const put = await platform.store.put('probe/object.txt', Buffer.from('kept'));
    expect(put.size).toBe(4);
  });

  it('restarts on the same data without re-initialising', async () => {
    await platform?.stop();
    platform = await boot();
    expect(await text(await platform.store.get('probe/object.txt'))).toBe('kept');
    expect((await fetch(`${platform.opsUrl}/readyz`)).status).toBe(200);
  });
});
