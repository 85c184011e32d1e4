import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  CallEmbeddedSchema,
  ClustererService,
  EmbedderService,
  LlmCallSchema,
  type CallEmbedded,
  type Task,
  type TaskEvent,
} from '@understudy/contracts';
import { createClient, GrpcServer } from '@understudy/grpc';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { postgresUrl, startService, type RunningService } from '@understudy/service';
import { createDatabase, uniqueName } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { definition } from './service.js';

const signature = { digest: 'sig-shared', version: 1, agentName: 'support', toolNames: ['search'] };
/** Two jobs behind one template: their embeddings point in clearly different directions. */
const direction = { a: [1, 0, 0, 0], b: [0, 1, 0, 0] } as const;
const near = (task: 'a' | 'b', i: number) => {
  const v = direction[task].map((x, d) => x + (d === 2 + (i % 2) ? 0.2 : 0));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe('clusterer on real Kafka and PostgreSQL', () => {
  const { kafka, postgres } = inject('testbed');
  const tenantId = uniqueName('tenant');
  const events: TaskEvent[] = [];
  let env: Record<string, string>;
  let embedder: GrpcServer;
  let client: Messaging;
  let service: RunningService<typeof settings>;

  const embedded = (task: 'a' | 'b', i: number): CallEmbedded =>
    create(CallEmbeddedSchema, {
      meta: { eventId: crypto.randomUUID(), tenantId, producer: 'test' },
      call: {
        callId: `${task}-${String(i)}`,
        traceId: 't',
        spanId: 's',
        startTime: timestampNow(),
      },
      signature,
      embedding: { values: near(task, i), dimension: 4, model: 'test', normalized: true },
      contentHash: `${task}${String(i)}`,
      summary: { provider: 'openai', requestModel: 'gpt-4o', contentCaptured: true },
    });
  const tasks = (kind: 'discovered' | 'updated'): Task[] =>
    events.flatMap((e) => (e.kind.case === kind && e.kind.value.task ? [e.kind.value.task] : []));

  beforeAll(async () => {
    // The embedder peer for ClassifyCall: a live call's agent name picks its direction.
    embedder = new GrpcServer({ host: '127.0.0.1', port: 0 });
    embedder.register(EmbedderService, {
      embedCall: ({ call }) => ({
        signature,
        embedding: {
          values: near(call?.context?.agentName === 'b' ? 'b' : 'a', 0),
          dimension: 4,
          model: 'test',
          normalized: true,
        },
      }),
    });
    const embedderPort = await embedder.start();
    const database = await createDatabase(postgres, uniqueName('clusterer'));
    env = {
      UNDERSTUDY_KAFKA_BROKERS: kafka.brokers.join(','),
      UNDERSTUDY_DATABASE_URL: postgresUrl(database),
      UNDERSTUDY_EMBEDDER_ADDRESS: `127.0.0.1:${String(embedderPort)}`,
      UNDERSTUDY_CLUSTERER_MIN_TASK_SIZE: '3',
      UNDERSTUDY_GRPC_HOST: '127.0.0.1',
      UNDERSTUDY_GRPC_PORT: '0',
      UNDERSTUDY_OPS_HOST: '127.0.0.1',
      UNDERSTUDY_OPS_PORT: '0',
      UNDERSTUDY_LOG_LEVEL: 'silent',
    };
    client = new Messaging({
      driver: new KafkaDriver({ brokers: kafka.brokers, clientId: 'clusterer-test' }),
      producerName: 'clusterer-test',
    });
    client.on(topics.tasks, { group: uniqueName('clusterer-test') }, (event) => {
      if (event.meta?.tenantId === tenantId) events.push(event);
    });
    await client.connect();
    await client.consumers.start();
    service = await startService(definition, env);
  });

  afterAll(async () => {
    await service.stop();
    await client.stop();
    await embedder.shutdown();
  });

  it('discovers two tasks, keeps them across a restart, and answers reports and classification', async () => {
    const first = [0, 1, 2].flatMap((i) => [embedded('a', i), embedded('b', i)]);
    await client.publishAll(topics.callsEmbedded, [...first, first[0] ?? embedded('a', 0)]);
    await expect.poll(() => tasks('discovered').length, { timeout: 30_000 }).toBe(2);
    const [taskA, taskB] = (['a', 'b'] as const).map((t) =>
      tasks('discovered').find((task) =>
        task.representativeCallIds.every((id) => id.startsWith(t)),
      ),
    );
    expect(taskA?.taskId).toBeDefined();
    expect(taskB?.taskId).toBeDefined();
    expect(taskA?.taskId).not.toBe(taskB?.taskId);
    expect(taskA).toMatchObject({ tenantId, signature: 'sig-shared', callCount: 3n, revision: 3n });
    expect(taskA?.label).toBe('support · tools: search');
    expect(taskA?.centroid?.dimension).toBe(4);

    // A restart keeps the state: redelivered and new calls extend the same tasks.
    await service.stop();
    service = await startService(definition, env);
    const more = [3, 4, 5].map((i) => embedded('a', i));
    await client.publishAll(topics.callsEmbedded, [...more, embedded('a', 1)]);
    await expect.poll(() => tasks('updated').length, { timeout: 30_000 }).toBe(1);
    expect(tasks('updated')[0]).toMatchObject({ taskId: taskA?.taskId, callCount: 6n });
    expect(tasks('discovered')).toHaveLength(2);

    const grpc = createClient(
      ClustererService,
      `127.0.0.1:${String(service.app.get(GrpcServer).port)}`,
    );
    try {
      const { report } = await grpc.getTaskReport({ tenantId, taskId: taskA?.taskId ?? '' });
      expect(report).toMatchObject({ callCount: 6n, contentCapturedCount: 6n, errorCount: 0n });
      expect(report?.models).toMatchObject([{ provider: 'openai', callCount: 6n }]);

      const page = await grpc.listTaskCalls({ tenantId, taskId: taskA?.taskId ?? '', pageSize: 4 });
      const rest = await grpc.listTaskCalls({
        tenantId,
        taskId: taskA?.taskId ?? '',
        pageSize: 4,
        pageToken: page.nextPageToken,
      });
      const ids = [...page.members, ...rest.members].map((m) => m.call?.callId).sort();
      expect(ids).toEqual(['a-0', 'a-1', 'a-2', 'a-3', 'a-4', 'a-5']);
      expect(rest.nextPageToken).toBe('');

      const live = (agent: string) =>
        create(LlmCallSchema, { tenantId, callId: 'live', context: { agentName: agent } });
      expect(await grpc.classifyCall({ call: live('b') })).toMatchObject({
        taskId: taskB?.taskId,
        signature: 'sig-shared',
      });
      expect((await grpc.classifyCall({ call: live('a') })).taskId).toBe(taskA?.taskId);
      await expect(
        grpc.getTaskReport({ tenantId: 'someone-else', taskId: taskA?.taskId ?? '' }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      grpc.close();
    }
  });
});
