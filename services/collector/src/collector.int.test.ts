import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toBinary } from '@bufbuild/protobuf';
import {
  CallStatusCode,
  Operation,
  Role,
  otlpTrace,
  otlpTraceService,
  type CallCaptured,
} from '@understudy/contracts';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { startService, type RunningService } from '@understudy/service';
import { startKafka, uniqueName, type KafkaServer } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { settings } from './config.js';
import { OtlpHttpServer } from './handlers/otlp-http.server.js';
import { definition } from './service.js';
import { chatSpan, exportRequest, span } from './testing/otlp-requests.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'collector-int-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A tenant of its own (isolating assertions on the shared topic) and its keys file. */
async function tenant(): Promise<{ id: string; key: string; keysFile: string }> {
  const id = uniqueName('tenant');
  const key = uniqueName('key');
  const keysFile = join(dir, `${id}.json`);
  const sha256 = createHash('sha256').update(key).digest('hex');
  await writeFile(keysFile, JSON.stringify([{ tenant: id, sha256 }]));
  return { id, key, keysFile };
}

async function startCollector(
  brokers: readonly string[],
  keysFile: string,
  env: Record<string, string> = {},
): Promise<{ service: RunningService<typeof settings>; url: string }> {
  const { s3 } = inject('testbed');
  const service = await startService(definition, {
    UNDERSTUDY_KAFKA_BROKERS: brokers.join(','),
    UNDERSTUDY_S3_ENDPOINT: `http://${s3.endPoint}:${String(s3.port)}`,
    UNDERSTUDY_S3_REGION: s3.region,
    UNDERSTUDY_S3_BUCKET: uniqueName('collector'),
    UNDERSTUDY_S3_ACCESS_KEY: s3.accessKey,
    UNDERSTUDY_S3_SECRET_KEY: s3.secretKey,
    UNDERSTUDY_TENANT_KEYS_FILE: keysFile,
    UNDERSTUDY_COLLECTOR_REDACTION_SECRET: 'collector-int-test-redaction-secret-0123456789',
    UNDERSTUDY_COLLECTOR_JOIN_TIMEOUT_MS: '3000',
    UNDERSTUDY_HTTP_HOST: '127.0.0.1',
    UNDERSTUDY_HTTP_PORT: '0',
    UNDERSTUDY_GRPC_HOST: '127.0.0.1',
    UNDERSTUDY_GRPC_PORT: '0',
    UNDERSTUDY_OPS_HOST: '127.0.0.1',
    UNDERSTUDY_OPS_PORT: '0',
    UNDERSTUDY_LOG_LEVEL: 'silent',
    ...env,
  });
  const port = String(service.app.get(OtlpHttpServer).port);
  return { service, url: `http://127.0.0.1:${port}/v1/traces` };
}

function exportTo(url: string, key: string, request: otlpTraceService.ExportTraceServiceRequest) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` },
    body: toBinary(otlpTraceService.ExportTraceServiceRequestSchema, request),
  });
}

describe('collector on the shared Kafka', () => {
  const { kafka } = inject('testbed');
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let reader: Messaging;
  let acme: Awaited<ReturnType<typeof tenant>>;
  const seen: { event: CallCaptured; key: string }[] = [];

  beforeAll(async () => {
    acme = await tenant();
    collector = await startCollector(kafka.brokers, acme.keysFile);
    reader = new Messaging({
      driver: new KafkaDriver({ brokers: kafka.brokers, clientId: uniqueName('collector-reader') }),
      producerName: 'collector-int-test',
    });
    reader.on(topics.callsCaptured, { group: uniqueName('collector-int') }, (event, context) => {
      if (event.meta?.tenantId === acme.id) {
        seen.push({ event, key: Buffer.from(context.key ?? []).toString() });
      }
    });
    await reader.start();
  });

  afterAll(async () => {
    await reader.stop();
    await collector.service.stop();
  });

  it('is ready once its producer is connected', async () => {
    const ready = await fetch(`${collector.service.telemetry.ops.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('acknowledges an export and puts its LLM calls on the topic, keyed by call id', async () => {
    const toolCall = chatSpan({
      attributes: {
        'gen_ai.input.messages': JSON.stringify([
          { role: 'user', parts: [{ type: 'text', content: 'Weather in Oslo?' }] },
        ]),
        'gen_ai.output.messages': JSON.stringify([
          {
            role: 'assistant',
            parts: [{ type: 'tool_call', id: 'c1', name: 'weather', arguments: '{"city":"Oslo"}' }],
            finish_reason: 'tool_calls',
          },
        ]),
        'gen_ai.usage.input_tokens': 50,
      },
    });
    const failed = chatSpan({
      attributes: { 'error.type': 'timeout' },
      status: { code: otlpTrace.Status_StatusCode.ERROR, message: 'timed out' },
    });
    const embedding = span({
      attributes: { 'gen_ai.operation.name': 'embeddings', 'gen_ai.request.model': 'e5' },
    });
    const request = exportRequest([toolCall, failed, embedding, span({ name: 'GET /orders' })], {
      serviceName: 'weather-agent',
    });

    const response = await exportTo(collector.url, acme.key, request);
    expect(response.status).toBe(200);

    await expect.poll(() => seen.length, { timeout: 30_000 }).toBe(3);
    const bySpan = new Map(seen.map((entry) => [entry.event.call?.spanId, entry]));
    for (const { event, key } of seen) {
      expect(key).toBe(event.call?.callId);
      expect(event.meta).toMatchObject({ tenantId: acme.id, producer: 'collector' });
      expect(event.meta?.traceParent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      expect(event.call?.context?.serviceName).toBe('weather-agent');
    }
    expect(bySpan.get(hex(toolCall.spanId))?.event.call).toMatchObject({
      traceId: hex(toolCall.traceId),
      operation: Operation.CHAT,
      usage: { inputTokens: 50 },
      content: {
        case: 'plainContent',
        value: {
          inputMessages: [{ role: Role.USER }],
          outputMessages: [
            { parts: [{ kind: { case: 'toolCall', value: { name: 'weather', id: 'c1' } } }] },
          ],
        },
      },
    });
    expect(bySpan.get(hex(failed.spanId))?.event.call?.status).toMatchObject({
      code: CallStatusCode.ERROR,
      errorType: 'timeout',
    });
    expect(bySpan.get(hex(embedding.spanId))?.event.call).toMatchObject({
      operation: Operation.EMBEDDINGS,
      contentCaptured: false,
    });
  });

  it('captures a span exported twice once', async () => {
    const again = chatSpan();
    for (let i = 0; i < 2; i += 1) {
      expect((await exportTo(collector.url, acme.key, exportRequest([again]))).status).toBe(200);
    }
    const copies = () => seen.filter((entry) => entry.event.call?.spanId === hex(again.spanId));
    await expect.poll(() => copies().length, { timeout: 30_000 }).toBe(1);
    // A second export of the span, after the first was captured, is not captured either.
    expect((await exportTo(collector.url, acme.key, exportRequest([again]))).status).toBe(200);
    const marker = chatSpan();
    expect((await exportTo(collector.url, acme.key, exportRequest([marker]))).status).toBe(200);
    await expect
      .poll(() => seen.some((entry) => entry.event.call?.spanId === hex(marker.spanId)), {
        timeout: 30_000,
      })
      .toBe(true);
    expect(copies()).toHaveLength(1);
  });
});

describe('collector when its broker goes away', () => {
  let broker: KafkaServer;

  beforeAll(async () => {
    broker = await startKafka({ name: 'collector-broker-down' });
  }, 180_000);

  afterAll(async () => {
    await broker.stop();
  });

  it('resumes after its broker restarts, without a restart of its own, and captures every call', async () => {
    const { id, key, keysFile } = await tenant();
    const { service, url } = await startCollector(broker.endpoint.brokers, keysFile, {
      UNDERSTUDY_COLLECTOR_PUBLISH_TIMEOUT_MS: '3000',
      UNDERSTUDY_COLLECTOR_JOIN_TIMEOUT_MS: '1000',
    });
    const captured = new Set<string>();
    const reader = new Messaging({
      driver: new KafkaDriver({ brokers: broker.endpoint.brokers, clientId: uniqueName('reader') }),
      producerName: 'collector-int-test',
    });
    reader.on(topics.callsCaptured, { group: uniqueName('resume') }, (event) => {
      if (event.meta?.tenantId === id) captured.add(event.call?.spanId ?? '');
    });
    await reader.start();
    try {
      const before = chatSpan({ spanId: Buffer.from('1000000000000001', 'hex') });
      const after = chatSpan({ spanId: Buffer.from('1000000000000002', 'hex') });
      expect((await exportTo(url, key, exportRequest([before]))).status).toBe(200);
      await broker.restart();
      // As an exporter does: retry what was refused (503) until it is taken.
      await vi.waitFor(
        async () => {
          expect((await exportTo(url, key, exportRequest([after]))).status).toBe(200);
        },
        { timeout: 60_000, interval: 1_000 },
      );
      await vi.waitFor(
        () => {
          expect([...captured].sort()).toEqual(['1000000000000001', '1000000000000002']);
        },
        { timeout: 90_000, interval: 500 },
      );
    } finally {
      await reader.stop();
      await service.stop();
    }
  });

  it('answers 503 with Retry-After, never 200, while Kafka cannot acknowledge', async () => {
    const { key, keysFile } = await tenant();
    const { service, url } = await startCollector(broker.endpoint.brokers, keysFile, {
      UNDERSTUDY_COLLECTOR_PUBLISH_TIMEOUT_MS: '3000',
      // Consumers leaving their groups wait out kafkajs' retries against the stopped broker.
      UNDERSTUDY_SHUTDOWN_TIMEOUT_MS: '60000',
    });
    try {
      expect((await exportTo(url, key, exportRequest([chatSpan()]))).status).toBe(200);
      await broker.stop();
      const response = await exportTo(url, key, exportRequest([chatSpan()]));
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
    } finally {
      await service.stop();
    }
  });
});
