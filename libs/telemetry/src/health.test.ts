import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { HealthRegistry } from './health.js';

const healthy = () => Promise.resolve({ healthy: true });

describe('HealthRegistry', () => {
  it('is ready with no checks and with passing ones', async () => {
    const health = new HealthRegistry();
    expect(await health.readiness()).toEqual({ ready: true, shuttingDown: false, checks: {} });
    health.register('kafka', () => Promise.resolve({ healthy: true, detail: '3 brokers' }));
    const report = await health.readiness();
    expect(report.ready).toBe(true);
    expect(report.checks['kafka']).toEqual({
      healthy: true,
      detail: '3 brokers',
      durationMs: expect.any(Number) as unknown,
    });
  });

  it('is not ready when any check fails, throws, or throws synchronously', async () => {
    const health = new HealthRegistry();
    health.register('kafka', healthy);
    health.register('postgres', () =>
      Promise.resolve({ healthy: false, detail: 'pool exhausted' }),
    );
    health.register('minio', () =>
      Promise.reject(new UnderstudyError(ErrorCode.Unavailable, 'connect ECONNREFUSED')),
    );
    health.register('broken', () => {
      throw new Error('not a promise');
    });
    const report = await health.readiness();
    expect(report.ready).toBe(false);
    expect(report.checks).toMatchObject({
      kafka: { healthy: true },
      postgres: { healthy: false, detail: 'pool exhausted' },
      minio: { healthy: false, detail: 'connect ECONNREFUSED' },
      broken: { healthy: false, detail: 'not a promise' },
    });
  });

  it('fails a check that runs past its timeout and aborts its signal', async () => {
    const health = new HealthRegistry({ timeoutMs: 5_000 });
    let aborted: AbortSignal | undefined;
    health.register(
      'slow',
      (signal) => {
        aborted = signal;
        return new Promise(() => undefined);
      },
      { timeoutMs: 50 },
    );
    const started = Date.now();
    const report = await health.readiness();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(report.checks['slow']).toMatchObject({
      healthy: false,
      detail: 'timed out after 50 ms',
    });
    expect(aborted?.aborted).toBe(true);
  });

  it('shares one run between concurrent probes', async () => {
    const health = new HealthRegistry();
    let runs = 0;
    health.register('counted', async () => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { healthy: true };
    });
    const [first, second] = await Promise.all([health.readiness(), health.readiness()]);
    expect(first).toBe(second);
    expect(runs).toBe(1);
    await health.readiness();
    expect(runs).toBe(2);
  });

  it('stops being ready once shutdown begins, without running checks', async () => {
    const health = new HealthRegistry();
    let runs = 0;
    health.register('counted', () => {
      runs += 1;
      return Promise.resolve({ healthy: true });
    });
    health.setShuttingDown();
    expect(health.shuttingDown).toBe(true);
    expect(await health.readiness()).toEqual({ ready: false, shuttingDown: true, checks: {} });
    expect(runs).toBe(0);
  });

  it('rejects duplicate names and unregisters', async () => {
    const health = new HealthRegistry();
    const unregister = health.register('kafka', () => Promise.resolve({ healthy: false }));
    expect(() => health.register('kafka', healthy)).toThrow(
      expect.objectContaining({ code: ErrorCode.AlreadyExists }) as Error,
    );
    unregister();
    expect(await health.readiness()).toMatchObject({ ready: true, checks: {} });
    health.register('kafka', healthy);
    unregister();
    expect(Object.keys((await health.readiness()).checks)).toEqual(['kafka']);
  });

  it('gives services sharing a registry their own check names and one readiness', async () => {
    const health = new HealthRegistry();
    const embedder = health.scoped('embedder');
    const clusterer = health.scoped('clusterer');
    embedder.register('kafka', healthy);
    const unregister = clusterer.register('kafka', () => Promise.resolve({ healthy: false }));
    expect(await embedder.readiness()).toMatchObject({
      ready: false,
      checks: { 'embedder/kafka': { healthy: true }, 'clusterer/kafka': { healthy: false } },
    });
    unregister();
    expect((await health.readiness()).ready).toBe(true);
    clusterer.setShuttingDown();
    expect(health.shuttingDown).toBe(true);
    expect(embedder.shuttingDown).toBe(true);
  });
});
