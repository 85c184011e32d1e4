import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@understudy/config';
import {
  Health,
  HealthCheckResponse_ServingStatus,
  ModelRegistryService,
} from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { createClient } from '@understudy/grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedConfig } from './config.js';
import { runDemo } from './demo/run.js';
import { startPlatform, type Platform } from './platform.js';
import { freePort } from './ports.js';

describe('embedded platform', () => {
  let dataDir: string;
  let platform: Platform | undefined;

  const boot = async () => {
    const port = async () => String(await freePort('127.0.0.1'));
    return startPlatform(
      loadConfig(embeddedConfig, {
        UNDERSTUDY_DATA_DIR: dataDir,
        UNDERSTUDY_LOG_LEVEL: 'warn',
        UNDERSTUDY_OTLP_PORT: await port(),
        UNDERSTUDY_OTLP_GRPC_PORT: await port(),
        UNDERSTUDY_GATEWAY_PORT: await port(),
        UNDERSTUDY_REGISTRY_PORT: await port(),
        UNDERSTUDY_OPS_PORT: await port(),
        UNDERSTUDY_LLM_BASE_URL: 'http://127.0.0.1:9/v1',
      }),
      {},
    );
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'understudy-embedded-'));
    // As root the cluster runs as `postgres`, which must be able to enter the data dir.
    await chmod(dataDir, 0o755);
  });

  afterAll(async () => {
    await platform?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts all seven services in one process and reports ready', async () => {
    platform = await boot();
    const ready = await fetch(`${platform.opsUrl}/readyz`);
    const report = (await ready.json()) as { checks: Record<string, { healthy: boolean }> };
    expect(ready.status).toBe(200);
    const services = new Set(Object.keys(report.checks).map((name) => name.split('/')[0]));
    expect([...services].sort()).toEqual(
      expect.arrayContaining([
        'clusterer',
        'collector',
        'dataset-builder',
        'embedder',
        'model-registry',
        'trainer-orchestrator',
      ]),
    );

    for (const [address, service] of [
      [platform.registryAddress, ''],
      [platform.otlpGrpcAddress, 'opentelemetry.proto.collector.trace.v1.TraceService'],
    ] as const) {
      const health = createClient(Health, address);
      try {
        const answer = await health.check({ service });
        expect(answer.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      } finally {
        health.close();
      }
    }

    // The registry answers its admin, for the platform's tenant by default, and no one unknown.
    const anonymous = createClient(ModelRegistryService, platform.registryAddress);
    const admin = createClient(ModelRegistryService, platform.registryAddress, {
      metadata: { authorization: `Bearer ${platform.registryToken}` },
    });
    try {
      await expect(anonymous.getRoutingTable({})).rejects.toMatchObject({
        code: ErrorCode.Unauthenticated,
      });
      expect(await admin.listModelVersions({})).toMatchObject({ modelVersions: [] });
      await expect(admin.getRoutingTable({ tenantId: 'another' })).rejects.toMatchObject({
        code: ErrorCode.PermissionDenied,
      });
    } finally {
      anonymous.close();
      admin.close();
    }

    // Authenticated ingress: the collector and the gateway refuse a missing key.
    const otlp = await fetch(`${platform.otlpUrl}/v1/traces`, { method: 'POST', body: '{}' });
    expect(otlp.status).toBe(401);
    const chat = await fetch(`${platform.gatewayUrl}/chat/completions`, {
      method: 'POST',
      body: '{}',
    });
    expect(chat.status).toBe(401);
  });

  it('keeps its API key, registry token and data across a restart', async () => {
    const key = platform?.apiKey;
    const token = platform?.registryToken;
    await platform?.stop();
    platform = await boot();
    expect(platform.apiKey).toBe(key);
    expect(platform.registryToken).toBe(token);
    expect((await fetch(`${platform.opsUrl}/readyz`)).status).toBe(200);
  });

  it('runs the demo: a task discovered, its dataset built, its adapter trained and routed', async () => {
    await platform?.stop();
    platform = undefined;
    const lines: string[] = [];
    const summary = await runDemo((line = '') => lines.push(line));
    expect(summary.datasets).toBeGreaterThanOrEqual(1);
    expect(summary.modelVersions).toBeGreaterThanOrEqual(1);
    // The invoice task's model was promoted; the support task's (if any) was not; noise has no task.
    expect(summary.routed).toEqual([
      { agent: 'invoice-agent', route: 'slm' },
      { agent: 'support-agent', route: 'llm' },
      { agent: 'planner-agent', route: 'llm' },
    ]);
    expect(lines.join('\n')).toMatch(/promoted understudy-\S+ to production/);
  }, 900_000);
});
