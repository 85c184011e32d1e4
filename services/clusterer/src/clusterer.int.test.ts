import { create } from '@bufbuild/protobuf';
import { durationFromMs, timestampNow } from '@bufbuild/protobuf/wkt';
import {
  CallEmbeddedSchema,
  ClustererService,
  EmbedderService,
  LlmCallSchema,
  TaskState,
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

/** A general-purpose assistant's prompt (no step, free text): content must split it. */
const signature = { digest: 'sig-shared', version: 2, agentName: 'support', toolNames: ['search'] };
const jobs = {
  a: { axis: 0, terms: ['invoice', 'total', 'vendor'] },
  b: { axis: 1, terms: ['refund', 'order', 'parcel'] },
} as const;
type Job = keyof typeof jobs;

/** Call i of a job: near the job's axis, with a little deterministic spread over the others. */
function near(job: Job, i: number): number[] {
  const v = Array.from({ length: 8 }, (_, d) =>
    d === jobs[job].axis ? 1 : d >= 2 ? 0.12 * Math.sin(i * 1.7 + d * 0.9) : 0,
  );
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

describe('clusterer on real Kafka and PostgreSQL', () => {
  const { kafka, postgres } = inject('testbed');
  const tenantId = uniqueName('tenant');
  const events: TaskEvent[] = [];
  let env: Record<string, string>;
  let embedder: GrpcServer;
  let client: Messaging;
  let service: RunningService<typeof settings>;

  const embedded = (job: Job, i: number): CallEmbedded =>
    create(CallEmbeddedSchema, {
      meta: { eventId: crypto.randomUUID(), tenantId, producer: 'test' },
      call: { callId: `${job}-${String(i)}`, traceId: 't', spanId: 's', startTime: timestampNow() },
      signature,
      embedding: { values: near(job, i), dimension: 8, model: 'test', normalized: true },
      contentHash: `${job}${String(i % 7)}`,
      terms: [...jobs[job].terms, `word${String(i)}`],
      summary: {
        provider: 'openai',
        requestModel: 'gpt-4o-2024-08-06',
        contentCaptured: true,
        usage: { inputTokens: 800, outputTokens: job === 'a' ? 120 : 300 },
        latency: durationFromMs(job === 'a' ? 900 : 2_000),
        output: {
          json: job === 'a',
          toolCall: false,
          digest: `${job}-answer-${String(i % 7)}`,
          choices: 1,
        },
      },
    });
  const tasks = (kind: 'discovered' | 'updated'): Task[] =>
    events.flatMap((e) => (e.kind.case === kind && e.kind.value.task ? [e.kind.value.task] : []));
  const discoveredFor = (job: Job) =>
    tasks('discovered').find((task) =>
      task.representativeCallIds.every((id) => id.startsWith(job)),
    );

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
      UNDERSTUDY_CLUSTERER_MIN_CLUSTER_SIZE: '5',
      UNDERSTUDY_CLUSTERER_CHECK_MS: '200',
      UNDERSTUDY_CLUSTERER_RECLUSTER_AFTER_CALLS: '24',
      UNDERSTUDY_CLUSTERER_RECLUSTER_INTERVAL_MS: '600000',
      UNDERSTUDY_CLUSTERER_INDEX_TTL_MS: '100',
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

  it('discovers two tasks behind one prompt, labels and scores them, and keeps them across a restart', async () => {
    const first = Array.from({ length: 12 }, (_, i) => [embedded('a', i), embedded('b', i)]).flat();
    // A redelivered call changes nothing.
    await client.publishAll(topics.callsEmbedded, [...first, embedded('a', 0)]);
    await expect.poll(() => tasks('discovered').length, { timeout: 30_000 }).toBe(2);
    const [taskA, taskB] = [discoveredFor('a'), discoveredFor('b')];
    expect(taskA?.taskId).toBeDefined();
    expect(taskB?.taskId).toBeDefined();
    expect(taskA?.taskId).not.toBe(taskB?.taskId);
    expect(taskA).toMatchObject({
      tenantId,
      signature: 'sig-shared',
      state: TaskState.ACTIVE,
      callCount: 12n,
      revision: 1n,
      agentName: 'support',
    });
    expect(taskA?.keywords.slice(0, 3).sort()).toEqual(['invoice', 'total', 'vendor']);
    expect(taskA?.label).toMatch(/^support: /);
    expect(taskA?.centroid?.dimension).toBe(8);
    // Scored and priced: both carry half the calls; the JSON task scores higher.
    expect(taskA?.profile).toMatchObject({
      windowCalls: 12n,
      shareOfCalls: 0.5,
      jsonOutputShare: 1,
    });
    expect(taskA?.savings?.currency).toBe('USD');
    expect(taskA?.savings?.currentCostPerMonth).toBeGreaterThan(0);
    expect(taskA?.savings?.savingsPerMonth).toBeGreaterThan(0);
    expect(taskA?.suitability?.overall).toBeGreaterThan(taskB?.suitability?.overall ?? 1);
    expect((taskA?.profile?.shareOfSpend ?? 0) + (taskB?.profile?.shareOfSpend ?? 0)).toBeCloseTo(
      1,
    );

    // Online: new calls join their task at once, by content, before any re-clustering.
    const grpc = () =>
      createClient(ClustererService, `127.0.0.1:${String(service.app.get(GrpcServer).port)}`);
    let clusterer = grpc();
    const members = async (taskId: string) => {
      const ids: string[] = [];
      let pageToken = '';
      do {
        const page = await clusterer.listTaskCalls({ tenantId, taskId, pageSize: 5, pageToken });
        ids.push(...page.members.map((m) => m.call?.callId ?? ''));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return ids.sort();
    };
    try {
      await client.publishAll(
        topics.callsEmbedded,
        [12, 13, 14].map((i) => embedded('a', i)),
      );
      await expect.poll(() => members(taskA?.taskId ?? ''), { timeout: 30_000 }).toHaveLength(15);
      expect(await members(taskB?.taskId ?? '')).toHaveLength(12);

      // A restart keeps the state: tasks, members and the index live calls are classified by.
      await service.stop();
      service = await startService(definition, env);
      clusterer.close();
      clusterer = grpc();
      const { report } = await clusterer.getTaskReport({ tenantId, taskId: taskA?.taskId ?? '' });
      expect(report).toMatchObject({ callCount: 15n, contentCapturedCount: 15n, errorCount: 0n });
      expect(report?.models).toMatchObject([
        {
          provider: 'openai',
          requestModel: 'gpt-4o-2024-08-06',
          callCount: 15n,
          inputTokens: 12_000n,
        },
      ]);
      expect(report?.models[0]?.cost).toBeGreaterThan(0);

      const live = (agent: string) =>
        create(LlmCallSchema, { tenantId, callId: 'live', context: { agentName: agent } });
      const b = await clusterer.classifyCall({ call: live('b') });
      expect(b).toMatchObject({ taskId: taskB?.taskId, signature: 'sig-shared' });
      expect(b.confidence).toBeGreaterThan(0.9);
      expect((await clusterer.classifyCall({ call: live('a') })).taskId).toBe(taskA?.taskId);
      await expect(
        clusterer.getTaskReport({ tenantId: 'someone-else', taskId: taskA?.taskId ?? '' }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });

      // Enough fresh calls re-cluster: the tasks keep their ids, and the one that grew is announced.
      // 3 online calls + 21 = the 24 fresh calls that make a run due.
      const fresh = Array.from({ length: 21 }, (_, i) => embedded('a', 15 + i));
      await client.publishAll(topics.callsEmbedded, fresh);
      await expect.poll(() => tasks('updated').length, { timeout: 30_000 }).toBeGreaterThan(0);
      expect(tasks('updated').at(-1)).toMatchObject({
        taskId: taskA?.taskId,
        callCount: 36n,
        revision: 2n,
      });
      expect(tasks('discovered')).toHaveLength(2);
      expect(events.filter((e) => e.kind.case === 'retired' || e.kind.case === 'merged')).toEqual(
        [],
      );
    } finally {
      clusterer.close();
    }
  });
});
