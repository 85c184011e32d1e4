import type { RequestListener } from 'node:http';
import { ErrorCode } from '@understudy/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthRegistry } from './health.js';
import { startOpsServer, type OpsServer } from './ops-server.js';

const metrics: RequestListener = (_request, response) => {
  response.setHeader('content-type', 'text/plain');
  response.end('# HELP up\nup 1\n');
};

const servers: OpsServer[] = [];

async function start(health = new HealthRegistry()): Promise<OpsServer> {
  const server = await startOpsServer({ host: '127.0.0.1', port: 0 }, { health, metrics });
  servers.push(server);
  return server;
}

async function get(server: OpsServer, path: string, method = 'GET') {
  const response = await fetch(`${server.url}${path}`, { method });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('startOpsServer', () => {
  it('binds the requested address and reports the picked port', async () => {
    const server = await start();
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('serves /metrics through the given handler', async () => {
    const server = await start();
    const response = await get(server, '/metrics');
    expect(response.status).toBe(200);
    expect(response.text).toContain('up 1');
  });

  it('answers /healthz until shutdown begins', async () => {
    const health = new HealthRegistry();
    const server = await start(health);
    expect(await get(server, '/healthz')).toMatchObject({ status: 200, text: '{"status":"ok"}' });
    health.setShuttingDown();
    expect(await get(server, '/healthz')).toMatchObject({
      status: 503,
      text: '{"status":"shutting_down"}',
    });
  });

  it('answers /readyz with each check, 503 when one fails or times out or shutdown begins', async () => {
    const health = new HealthRegistry({ timeoutMs: 100 });
    let kafkaUp = true;
    health.register('kafka', () => Promise.resolve({ healthy: kafkaUp }));
    const server = await start(health);

    const ready = await get(server, '/readyz?verbose=1');
    expect(ready.status).toBe(200);
    expect(ready.headers.get('content-type')).toContain('application/json');
    expect(JSON.parse(ready.text)).toEqual({
      status: 'ready',
      checks: { kafka: { healthy: true, durationMs: expect.any(Number) as unknown } },
    });

    kafkaUp = false;
    const down = await get(server, '/readyz');
    expect(down.status).toBe(503);
    expect(JSON.parse(down.text)).toMatchObject({
      status: 'not_ready',
      checks: { kafka: { healthy: false } },
    });

    kafkaUp = true;
    const unregister = health.register('minio', () => new Promise(() => undefined));
    const slow = await get(server, '/readyz');
    expect(slow.status).toBe(503);
    expect(JSON.parse(slow.text)).toMatchObject({
      checks: {
        kafka: { healthy: true },
        minio: { healthy: false, detail: 'timed out after 100 ms' },
      },
    });
    unregister();
    expect((await get(server, '/readyz')).status).toBe(200);

    health.setShuttingDown();
    const stopping = await get(server, '/readyz');
    expect(stopping.status).toBe(503);
    expect(JSON.parse(stopping.text)).toEqual({ status: 'shutting_down', checks: {} });
  });

  it('answers HEAD without a body, 404 for unknown paths and 405 for other methods', async () => {
    const server = await start();
    expect(await get(server, '/healthz', 'HEAD')).toMatchObject({ status: 200, text: '' });
    expect((await get(server, '/nope')).status).toBe(404);
    const post = await get(server, '/readyz', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('closes idempotently, dropping kept-alive connections', async () => {
    const server = await start();
    await get(server, '/healthz');
    await Promise.all([server.close(), server.close()]);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  it('fails with FAILED_PRECONDITION when the port is taken', async () => {
    const first = await start();
    await expect(
      startOpsServer(
        { host: '127.0.0.1', port: first.port },
        { health: new HealthRegistry(), metrics },
      ),
    ).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition, details: { port: first.port } });
  });
});
