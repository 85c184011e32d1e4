import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text as streamText } from 'node:stream/consumers';
import { create, type DescService } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  CallCapturedSchema,
  CallStatusCode,
  DatasetBuilderService,
  DatasetBuildState,
  DatasetSchema,
  EventMetaSchema,
  LlmCallSchema,
  ClustererService,
  ModelRegistryService,
  Role,
  TaskEventSchema,
  type CreateDatasetRequest,
  type DatasetEvent,
  type LlmCall,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { createClient, GrpcServer, type ServiceImpl } from '@understudy/grpc';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { postgresUrl, startService, type RunningService } from '@understudy/service';
import { MinioDriver } from '@understudy/storage';
import { createDatabase, uniqueName, type TestbedEndpoints } from '@understudy/testbed';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { definition } from './service.js';
import {
  callWith,
  chatCall,
  encrypted,
  testKeyring,
  text,
  toolCall,
  toolResult,
} from './testing/calls.js';

/** Every RPC fails as unimplemented except the ones given: the registry's and clusterer's doubles. */
function only<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>): ServiceImpl<S> {
  const fail = () => {
    throw new UnderstudyError(ErrorCode.Unimplemented, 'not in this test double');
  };
  return {
    ...Object.fromEntries(service.methods.map((method) => [method.localName, fail])),
    ...impl,
  } as ServiceImpl<S>;
}

let testbed: TestbedEndpoints;
let registry: GrpcServer;
let service: RunningService<typeof settings>;
let client: Messaging;
let database: pg.Client;
const registered: CreateDatasetRequest[] = [];
/** What the clusterer double answers to ListTaskCalls, by task id. */
const taskMembers = new Map<string, string[]>();
const datasetEvents: DatasetEvent[] = [];
const tenantId = uniqueName('tenant');
const bucket = uniqueName('datasets');
/** The tenant's content keys: one of the usable calls arrives encrypted. */
const contentKeys = testKeyring(tenantId);
let keysDir = '';

beforeAll(async () => {
  testbed = inject('testbed');
  const postgres = await createDatabase(testbed.postgres, uniqueName('dataset_builder'));
  database = new pg.Client(postgres);
  await database.connect();

  registry = new GrpcServer({ host: '127.0.0.1', port: 0 });
  registry.register(
    ModelRegistryService,
    only(ModelRegistryService, {
      createDataset: (request) => {
        registered.push(request);
        const dataset = create(DatasetSchema, request.dataset);
        dataset.version = 1;
        dataset.createdAt = timestampNow();
        return { dataset };
      },
    }),
  );
  // The clusterer owns membership; its double serves on the same server.
  registry.register(
    ClustererService,
    only(ClustererService, {
      listTaskCalls: (request) => ({
        members: (taskMembers.get(request.taskId) ?? []).map((callId) => ({
          call: { callId },
          contentCaptured: true,
        })),
        nextPageToken: '',
      }),
    }),
  );
  await registry.start();

  keysDir = await mkdtemp(join(tmpdir(), 'dataset-builder-keys-'));
  await writeFile(join(keysDir, 'content-keys.json'), contentKeys.json);
  const { s3 } = testbed;
  service = await startService(definition, {
    UNDERSTUDY_KAFKA_BROKERS: testbed.kafka.brokers.join(','),
    UNDERSTUDY_S3_ENDPOINT: `http://${s3.endPoint}:${String(s3.port)}`,
    UNDERSTUDY_S3_REGION: s3.region,
    UNDERSTUDY_S3_BUCKET: bucket,
    UNDERSTUDY_S3_ACCESS_KEY: s3.accessKey,
    UNDERSTUDY_S3_SECRET_KEY: s3.secretKey,
    UNDERSTUDY_DATABASE_URL: postgresUrl(postgres),
    UNDERSTUDY_REGISTRY_ADDRESS: `127.0.0.1:${String(registry.port)}`,
    UNDERSTUDY_CLUSTERER_ADDRESS: `127.0.0.1:${String(registry.port)}`,
    UNDERSTUDY_GRPC_HOST: '127.0.0.1',
    UNDERSTUDY_GRPC_PORT: '0',
    UNDERSTUDY_OPS_HOST: '127.0.0.1',
    UNDERSTUDY_OPS_PORT: '0',
    UNDERSTUDY_LOG_LEVEL: 'silent',
    UNDERSTUDY_DATASET_MIN_CALLS: '3',
    UNDERSTUDY_DATASET_EVAL_FRACTION: '0.34',
    UNDERSTUDY_CONTENT_KEYS_FILE: join(keysDir, 'content-keys.json'),
  });

  client = new Messaging({
    driver: new KafkaDriver({ brokers: testbed.kafka.brokers, clientId: 'dataset-builder-test' }),
    producerName: 'test',
  });
  client.on(topics.datasets, { group: uniqueName('dataset-events') }, (event) => {
    if (event.meta?.tenantId === tenantId) datasetEvents.push(event);
  });
  await client.start();
});

afterAll(async () => {
  await client.stop();
  await service.stop();
  await registry.shutdown();
  await database.end();
  await rm(keysDir, { recursive: true, force: true });
});

let eventCount = 0;
const meta = () =>
  create(EventMetaSchema, { eventId: `${tenantId}-${String(++eventCount)}`, tenantId });
const publishCall = (call: LlmCall) =>
  client.publish(topics.callsCaptured, create(CallCapturedSchema, { meta: meta(), call }));
/** The clusterer's view changes, then its event says so with one representative call. */
const publishTask = (revision: bigint, members: string[]) => {
  taskMembers.set('task-1', members);
  return client.publish(
    topics.tasks,
    create(TaskEventSchema, {
      meta: meta(),
      kind: {
        case: revision === 1n ? 'discovered' : 'updated',
        value: {
          task: {
            taskId: 'task-1',
            tenantId,
            revision,
            representativeCallIds: members.slice(0, 1),
          },
        },
      },
    }),
  );
};

/** An agent step: the model called a tool, got its result, and now answers. */
const toolUse = create(LlmCallSchema, {
  ...callWith({
    systemInstructions: [text('You look up orders.')],
    inputMessages: [
      { role: Role.USER, parts: [text('Where is order A?')] },
      { role: Role.ASSISTANT, parts: [toolCall('call_1', 'find_order', '{"id":"A"}')] },
      { role: Role.TOOL, parts: [toolResult('call_1', '{"status":"shipped"}')] },
    ],
    outputMessages: [{ role: Role.ASSISTANT, parts: [text('Order A has shipped.')] }],
    toolDefinitions: [
      {
        type: 'function',
        name: 'find_order',
        description: 'Look up an order',
        parameters: { type: 'object', properties: { id: { type: 'string' } } },
      },
    ],
  }),
  tenantId,
  callId: 'call-tool',
});
const calls = {
  tool: toolUse,
  bravo: chatCall({
    tenantId,
    callId: 'call-bravo',
    user: 'Where is order bravo?',
    answer: 'Lost.',
    requestModel: 'gpt-4o',
    responseModel: 'gpt-4o-2024-08-06',
  }),
  charlie: encrypted(
    chatCall({
      tenantId,
      callId: 'call-charlie',
      user: 'Cancel order charlie',
      answer: 'Done.',
      responseModel: 'gpt-4o-2024-08-06',
    }),
    contentKeys.keyring,
  ),
  failed: chatCall({ tenantId, callId: 'call-failed', status: CallStatusCode.ERROR }),
  hidden: create(LlmCallSchema, { tenantId, callId: 'call-hidden', contentCaptured: false }),
};
const members = Object.values(calls).map(({ callId }) => callId);

/** The rows the builder must write, by call id, in the OpenAI fine-tuning format. */
const expectedRows: Record<string, unknown> = {
  'call-tool': {
    messages: [
      { role: 'system', content: 'You look up orders.' },
      { role: 'user', content: 'Where is order A?' },
      {
        role: 'assistant',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'find_order', arguments: '{"id":"A"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"status":"shipped"}' },
      { role: 'assistant', content: 'Order A has shipped.' },
    ],
    tools: [
      {
        type: 'function',
        function: {
          name: 'find_order',
          description: 'Look up an order',
          parameters: { type: 'object', properties: { id: { type: 'string' } } },
        },
      },
    ],
  },
  'call-bravo': {
    messages: [
      { role: 'user', content: 'Where is order bravo?' },
      { role: 'assistant', content: 'Lost.' },
    ],
  },
  'call-charlie': {
    messages: [
      { role: 'user', content: 'Cancel order charlie' },
      { role: 'assistant', content: 'Done.' },
    ],
  },
};

async function savedCalls(): Promise<number> {
  const result = await database.query<{ count: string }>(
    'SELECT count(*) FROM datasets.calls WHERE tenant_id = $1',
    [tenantId],
  );
  return Number(result.rows[0]?.count);
}

describe('dataset-builder on Kafka, MinIO and PostgreSQL', () => {
  it('builds, stores, registers and announces a dataset once a task has enough usable calls', async () => {
    // Below the threshold: two usable calls, one failed, one without content.
    for (const call of [calls.tool, calls.bravo, calls.failed, calls.hidden])
      await publishCall(call);
    await publishTask(1n, members);
    await expect.poll(savedCalls, { timeout: 30_000 }).toBe(4);
    await expect
      .poll(
        async () =>
          (await database.query('SELECT 1 FROM datasets.tasks WHERE tenant_id = $1', [tenantId]))
            .rowCount,
        { timeout: 30_000 },
      )
      .toBe(1);
    expect(datasetEvents).toEqual([]);

    // The third usable call, encrypted, crosses the threshold. It is kept encrypted.
    await publishCall(calls.charlie);
    await expect.poll(() => datasetEvents.length, { timeout: 30_000 }).toBe(1);
    const kept = await database.query<{ call: Buffer }>(
      'SELECT call FROM datasets.calls WHERE tenant_id = $1 AND call_id = $2',
      [tenantId, 'call-charlie'],
    );
    expect(kept.rows).toHaveLength(1);
    expect(kept.rows[0]?.call.toString('latin1')).not.toContain('order charlie');
    const [event] = datasetEvents;
    if (event?.kind.case !== 'ready')
      throw new Error(`expected ready, got ${String(event?.kind.case)}`);
    const { dataset } = event.kind.value;
    expect(event.meta).toMatchObject({ tenantId, producer: 'dataset-builder' });
    expect(event.meta?.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event).toMatchObject({ taskId: 'task-1', datasetId: dataset?.datasetId });
    expect(dataset).toMatchObject({
      version: 1,
      trainExampleCount: 2n,
      evalExampleCount: 1n,
      sourceCallCount: 5n,
      taskRevision: 1n,
      // The tool call names no model, so it counts for none.
      teacherModels: [{ model: 'gpt-4o-2024-08-06', exampleCount: 2n }],
    });

    // Registered once, idempotently keyed by the dataset id.
    expect(registered).toHaveLength(1);
    expect(registered[0]?.requestId).toBe(dataset?.datasetId);

    // The objects in MinIO are exactly the expected rows and a manifest that describes them.
    const store = new MinioDriver({ ...testbed.s3, bucket });
    const read = async (key: string) => streamText(await store.get(key));
    const prefix = `datasets/${tenantId}/task-1/${dataset?.datasetId ?? ''}`;
    expect(dataset?.train?.key).toBe(`${prefix}/train.jsonl`);
    const manifest = JSON.parse(await read(`${prefix}/manifest.json`)) as {
      splits: Record<'train' | 'eval', { uri: string; rows: number; sha256: string }>;
      source_calls: Record<'train' | 'eval', string[]>;
    };
    expect(manifest).toMatchObject({
      format: 'openai-chat-jsonl',
      dataset_id: dataset?.datasetId,
      task_id: 'task-1',
      tenant_id: tenantId,
      source_call_count: 5,
      excluded: { error: 1, no_content: 1, not_captured: 0 },
    });
    const split = manifest.source_calls;
    expect([...split.train, ...split.eval].sort()).toEqual([
      'call-bravo',
      'call-charlie',
      'call-tool',
    ]);
    for (const side of ['train', 'eval'] as const) {
      const body = await read(`${prefix}/${side}.jsonl`);
      expect(body).toBe(split[side].map((id) => `${JSON.stringify(expectedRows[id])}\n`).join(''));
      const sha256 = createHash('sha256').update(body).digest('hex');
      expect(manifest.splits[side]).toEqual({
        uri: `s3://${bucket}/${prefix}/${side}.jsonl`,
        rows: split[side].length,
        sha256,
      });
      expect(dataset?.[side]?.sha256).toBe(sha256);
    }

    // The build is visible over gRPC.
    const builder = createClient(
      DatasetBuilderService,
      `127.0.0.1:${String(service.app.get(GrpcServer).port)}`,
    );
    try {
      const { build } = await builder.getDatasetBuild({
        tenantId,
        datasetId: dataset?.datasetId ?? '',
      });
      expect(build).toMatchObject({
        state: DatasetBuildState.READY,
        taskId: 'task-1',
        requestId: dataset?.datasetId,
      });
      await expect(
        builder.getDatasetBuild({ tenantId: 'other', datasetId: dataset?.datasetId ?? '' }),
      ).rejects.toMatchObject({ code: ErrorCode.NotFound });

      // Redelivered and newer events with the same members find the dataset already built.
      await publishCall(calls.charlie);
      await publishTask(2n, [...members].reverse());
      const rebuilt = await builder.buildDataset({ requestId: 'r-1', tenantId, taskId: 'task-1' });
      expect(rebuilt.build).toMatchObject({
        datasetId: dataset?.datasetId,
        state: DatasetBuildState.READY,
      });
    } finally {
      builder.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(datasetEvents).toHaveLength(1);
    expect(registered).toHaveLength(1);
  });
});
