import { randomUUID } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  AdapterArtifactSchema,
  AdapterFormat,
  DatasetSchema,
  DatasetSplit,
  EvaluationKind,
  EvaluationVerdict,
  EventMetaSchema,
  type GetSavingsReportRequestSchema,
  type ListTasksRequestSchema,
  type ModelRegistryService,
  ModelFootprintSchema,
  ModelStage,
  ModelVersionSchema,
  ObjectRefSchema,
  ResourceType,
  SavingsEstimateSchema,
  SuitabilityScoresSchema,
  TaskEventSchema,
  TaskSchema,
  TaskState,
  TrainingRunEventSchema,
  TrainingRunSchema,
  TrainingRunState,
  type Dataset,
  type ModelVersion,
  type ModelVersionEvent,
  type Task,
  type TaskEvent,
  type TrainingRunEvent,
} from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import type { Client } from '@understudy/grpc';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { postgresUrl, type RunningService } from '@understudy/service';
import { createDatabase, uniqueName } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import {
  createdDataset,
  datasetOf,
  measuredTask,
  modelVersionOf,
  registeredOn,
} from './testing/fixtures.js';
import { testToken } from './testing/principals.js';
import { startRegistry } from './testing/start.js';

/*
 * The registry's records on the test bed's PostgreSQL and Kafka: the task view, ListTasks and
 * the savings report, keyset paging while rows are inserted, model version fields and updates, training run history
 * from events, and lineage across merges and splits.
 */

type TaskInit = MessageInitShape<typeof TaskSchema>;

let service: RunningService<typeof settings>;
let registry: Client<typeof ModelRegistryService>;
/** Another principal, who may approve what `registry`'s caller registers. */
let reviewing: Client<typeof ModelRegistryService>;
/** The clusterer and the trainer orchestrator, as far as the registry's views are concerned. */
let peer: Messaging;
const modelVersionEvents: ModelVersionEvent[] = [];
/** The subject `registry` calls as: the actor of its changes. */
const operator = 'ops@example.com';
const reviewer = 'reviewer@example.com';

beforeAll(async () => {
  const { kafka, postgres } = inject('testbed');
  const database = await createDatabase(postgres, uniqueName('records'));
  const tokens = { operator: testToken('operator'), reviewer: testToken('reviewer') };
  const started = await startRegistry(kafka.brokers, postgresUrl(database), {
    principals: [
      { subject: operator, token: tokens.operator, roles: ['admin'], tenants: ['*'] },
      { subject: reviewer, token: tokens.reviewer, roles: ['approver'], tenants: ['*'] },
    ],
  });
  service = started.service;
  registry = started.connect(tokens.operator);
  reviewing = started.connect(tokens.reviewer);
  peer = new Messaging({
    driver: new KafkaDriver({ brokers: kafka.brokers, clientId: uniqueName('peer') }),
    producerName: 'records-test',
  });
  peer.on(topics.modelVersions, { group: uniqueName('records-test') }, (event) => {
    modelVersionEvents.push(event);
  });
  await peer.start();
});

afterAll(async () => {
  registry.close();
  reviewing.close();
  await peer.stop();
  await service.stop();
});

const day = (date: number, hour = 0): Timestamp =>
  timestampFromDate(new Date(Date.UTC(2026, 0, date, hour)));

const meta = (tenantId: string, occurredAt?: Timestamp) =>
  create(EventMetaSchema, { eventId: randomUUID(), tenantId, ...(occurredAt && { occurredAt }) });

function taskEvent(
  tenantId: string,
  kind: NonNullable<MessageInitShape<typeof TaskEventSchema>['kind']>,
): TaskEvent {
  return create(TaskEventSchema, { meta: meta(tenantId), kind });
}

function discovered(task: Task): TaskEvent {
  return taskEvent(task.tenantId, { case: 'discovered', value: { task } });
}

function taskOf(tenantId: string, taskId: string, fields: TaskInit = {}): Task {
  return create(TaskSchema, {
    taskId,
    tenantId,
    state: TaskState.ACTIVE,
    revision: 1n,
    ...fields,
  });
}

/** Every page of a list, following next_page_token. */
async function everyPage<T>(
  page: (pageToken: string) => Promise<{ items: T[]; nextPageToken: string }>,
): Promise<T[]> {
  const items: T[] = [];
  let pageToken = '';
  do {
    const next = await page(pageToken);
    items.push(...next.items);
    pageToken = next.nextPageToken;
  } while (pageToken !== '');
  return items;
}

const invalid = { code: ErrorCode.InvalidArgument };

describe('registry records on PostgreSQL and Kafka', () => {
  it('lists tasks from TaskEvents with filters, orders and page tokens', async () => {
    const tenantId = uniqueName('tenant');
    const task = (id: number, fields: TaskInit) =>
      taskOf(tenantId, `task-${String(id)}`, {
        suitability: create(SuitabilityScoresSchema, { overall: 0.5 }),
        ...fields,
      });
    const scored = (overall: number) => create(SuitabilityScoresSchema, { overall });
    const saving = (savingsPerMonth: number) =>
      create(SavingsEstimateSchema, { currency: 'USD', savingsPerMonth });
    const tasks = [
      task(1, {
        agentName: 'billing',
        suitability: scored(0.9),
        savings: saving(500),
        callCount: 100n,
        lastSeenAt: day(5),
      }),
      task(2, {
        agentName: 'billing',
        suitability: scored(0.4),
        savings: saving(1200),
        callCount: 40n,
        lastSeenAt: day(3),
      }),
      task(3, {
        agentName: 'support',
        suitability: scored(0.7),
        savings: saving(500),
        callCount: 900n,
        lastSeenAt: day(9),
      }),
      task(4, {
        agentName: 'support',
        state: TaskState.RETIRED,
        suitability: scored(0.95),
        savings: saving(50),
        callCount: 7n,
        lastSeenAt: day(1),
      }),
      // No savings estimate, no last call time yet.
      task(5, { agentName: 'planner', suitability: scored(0.7) }),
    ];
    for (const item of tasks) await peer.publish(topics.tasks, discovered(item));
    const [, second] = tasks;
    if (second === undefined) throw new Error('no task');
    // A newer revision moves task-2 down; a stale copy of the old one, redelivered, does not.
    await peer.publish(
      topics.tasks,
      taskEvent(tenantId, {
        case: 'updated',
        value: { task: create(TaskSchema, { ...second, revision: 2n, savings: saving(100) }) },
      }),
    );
    await peer.publish(topics.tasks, discovered(second));

    const ids = async (request: MessageInitShape<typeof ListTasksRequestSchema> = {}) =>
      (await registry.listTasks({ tenantId, ...request })).tasks.map((item) => item.taskId);
    const names = (...numbers: number[]) => numbers.map((n) => `task-${String(n)}`);
    // Default `savings_per_month desc`; ties go by id in the same direction.
    await expect
      .poll(() => ids(), { timeout: 30_000, interval: 200 })
      .toEqual(names(3, 1, 2, 4, 5));
    expect(await ids({ state: TaskState.ACTIVE })).toEqual(names(3, 1, 2, 5));
    expect(await ids({ state: TaskState.RETIRED })).toEqual(names(4));
    expect(await ids({ agentName: 'support' })).toEqual(names(3, 4));
    expect(await ids({ minSuitability: 0.7 })).toEqual(names(3, 1, 4, 5));
    expect(await ids({ agentName: 'billing', minSuitability: 0.5 })).toEqual(names(1));
    expect(await ids({ orderBy: 'suitability desc' })).toEqual(names(4, 1, 5, 3, 2));
    expect(await ids({ orderBy: 'call_count' })).toEqual(names(5, 4, 2, 1, 3));
    expect(await ids({ orderBy: 'last_seen_at desc' })).toEqual(names(3, 1, 2, 4, 5));
    expect(await ids({ orderBy: 'suitability desc, call_count' })).toEqual(names(4, 1, 5, 3, 2));
    const { tasks: listed } = await registry.listTasks({ tenantId, agentName: 'planner' });
    expect(listed).toEqual([expect.objectContaining({ taskId: 'task-5', tenantId })]);

    // Page by page, in every order, the same rows as one page.
    for (const orderBy of ['', 'suitability desc, call_count', 'last_seen_at', 'call_count desc']) {
      const paged = await everyPage(async (pageToken) => {
        const page = await registry.listTasks({ tenantId, orderBy, pageSize: 2, pageToken });
        return { items: page.tasks.map((item) => item.taskId), nextPageToken: page.nextPageToken };
      });
      expect(paged).toEqual(await ids({ orderBy }));
    }

    const first = await registry.listTasks({ tenantId, pageSize: 2 });
    expect(first.nextPageToken).not.toBe('');
    await expect(
      registry.listTasks({ tenantId, pageSize: 2, pageToken: first.nextPageToken, agentName: 'x' }),
    ).rejects.toMatchObject(invalid);
    await expect(
      registry.listTasks({ tenantId, pageToken: first.nextPageToken, orderBy: 'call_count' }),
    ).rejects.toMatchObject(invalid);
    await expect(registry.listTasks({ tenantId, pageToken: 'garbage' })).rejects.toMatchObject(
      invalid,
    );
    await expect(registry.listTasks({ tenantId, orderBy: 'label' })).rejects.toMatchObject(invalid);
    expect(await ids({ tenantId: uniqueName('tenant') })).toEqual([]);
  });

  it('reports active tasks by saving, with their totals and whole profiles, for one tenant', async () => {
    const tenantId = uniqueName('tenant');
    const otherTenant = uniqueName('tenant');
    const measured = (date: number) => new Date(Date.UTC(2026, 0, date));
    const tasks = [
      measuredTask(tenantId, 'task-1', {
        suitability: 0.9,
        currentCost: 300,
        projectedCost: 20,
        shareOfCalls: 0.3,
        shareOfSpend: 0.4,
        tenantCost: 1000,
        measuredAt: measured(10),
      }),
      // Measured last: the tenant's spend is its figure.
      measuredTask(tenantId, 'task-2', {
        suitability: 0.8,
        currentCost: 500,
        projectedCost: 50,
        shareOfCalls: 0.2,
        shareOfSpend: 0.3,
        tenantCost: 1100,
        measuredAt: measured(11),
      }),
      // Saves most, but below the suitability asked for below.
      measuredTask(tenantId, 'task-3', {
        suitability: 0.5,
        currentCost: 900,
        projectedCost: 100,
        measuredAt: measured(10),
      }),
      measuredTask(
        tenantId,
        'task-4',
        { suitability: 0.95, currentCost: 2000, measuredAt: measured(12) },
        { state: TaskState.RETIRED },
      ),
      measuredTask(tenantId, 'task-5', {
        suitability: 0.7,
        currentCost: 100,
        projectedCost: 10,
        shareOfCalls: 0.1,
        shareOfSpend: 0.05,
        measuredAt: measured(10),
      }),
      measuredTask(otherTenant, 'task-6', { suitability: 0.99, currentCost: 5000 }),
    ];
    for (const item of tasks) await peer.publish(topics.tasks, discovered(item));

    const report = async (request: MessageInitShape<typeof GetSavingsReportRequestSchema> = {}) => {
      const { report: answer } = await registry.getSavingsReport({ tenantId, ...request });
      if (answer === undefined) throw new Error('no report');
      return answer;
    };
    const ids = (answer: { tasks: Task[] }) => answer.tasks.map((item) => item.taskId);
    await expect
      .poll(async () => ids(await report()), { timeout: 30_000, interval: 200 })
      .toEqual(['task-3', 'task-2', 'task-1', 'task-5']);
    await expect
      .poll(async () => ids(await report({ tenantId: otherTenant })), { timeout: 30_000 })
      .toEqual(['task-6']);

    const suitable = await report({ minSuitability: 0.7 });
    expect(ids(suitable)).toEqual(['task-2', 'task-1', 'task-5']);
    expect(suitable).toMatchObject({
      tenantId,
      currency: 'USD',
      tenantCostPerMonth: 1100,
      taskCount: 3,
    });
    expect(suitable.shareOfCalls).toBeCloseTo(0.6, 12);
    expect(suitable.shareOfSpend).toBeCloseTo(0.75, 12);
    expect(suitable.currentCostPerMonth).toBeCloseTo(900, 9);
    expect(suitable.projectedCostPerMonth).toBeCloseTo(80, 9);
    expect(suitable.savingsPerMonth).toBeCloseTo(820, 9);
    const computedAt = suitable.computedAt && timestampDate(suitable.computedAt);
    expect(computedAt?.getTime()).toBeGreaterThan(Date.now() - 60_000);
    const top = await report({ minSuitability: 0.7, limit: 2 });
    expect(ids(top)).toEqual(['task-2', 'task-1']);
    expect(top.savingsPerMonth).toBeCloseTo(730, 9);

    // The profile survives the view whole; the report leaves only the centroid out.
    const [first] = tasks;
    const { task: stored } = await registry.getTask({ tenantId, taskId: 'task-1' });
    expect(stored).toEqual(first);
    expect(top.tasks[1]).toEqual({ ...first, centroid: undefined });
    await expect(registry.getSavingsReport({ tenantId, limit: -1 })).rejects.toMatchObject(invalid);
  });

  it('pages without repeats or gaps while rows are inserted between and during pages', async () => {
    const tenantId = uniqueName('tenant');
    const taskId = uniqueName('task');
    const originals: string[] = [];
    for (let index = 0; index < 9; index += 1) {
      originals.push((await createdDataset(registry, tenantId, taskId)).datasetId);
    }
    const datasets = (orderBy: string, between: () => Promise<unknown>) =>
      everyPage(async (pageToken) => {
        if (pageToken !== '') await between();
        const page = await registry.listDatasets({
          tenantId,
          taskId,
          orderBy,
          pageSize: 2,
          pageToken,
        });
        return { items: page.datasets, nextPageToken: page.nextPageToken };
      });

    // Newest first: rows created meanwhile sort before the pages already read.
    const added: string[] = [];
    const addTwo = async () => {
      // Between the first pages only: oldest first, the reader would never catch up otherwise.
      if (added.length >= 6) return;
      added.push((await createdDataset(registry, tenantId, taskId)).datasetId);
      added.push((await createdDataset(registry, tenantId, taskId)).datasetId);
    };
    const newestFirst = (await datasets('', addTwo)).map((dataset) => dataset.datasetId);
    expect(newestFirst).toEqual([...originals].reverse());
    expect(added).toHaveLength(6);

    // Oldest first: rows created meanwhile come after, and are read in their turn.
    const before = [...originals, ...added];
    added.length = 0;
    const oldestFirst = await datasets('version', addTwo);
    expect(oldestFirst.map((dataset) => dataset.datasetId)).toEqual([...before, ...added]);
    expect(oldestFirst.map((dataset) => dataset.version)).toEqual(
      oldestFirst.map((_, index) => index + 1),
    );

    // Concurrent writers while model versions are paged in `created_at` order.
    const dataset = await createdDataset(registry, tenantId, taskId);
    const existing: string[] = [];
    for (let index = 0; index < 8; index += 1) {
      existing.push((await registeredOn(registry, dataset)).modelVersionId);
    }
    // A writer registering while the reader pages, each at its own pace.
    const writer = (async () => {
      for (let index = 0; index < 12; index += 1) await registeredOn(registry, dataset);
    })();
    const read = await everyPage(async (pageToken) => {
      const page = await registry.listModelVersions({
        tenantId,
        taskId,
        orderBy: 'created_at',
        pageSize: 3,
        pageToken,
      });
      return {
        items: page.modelVersions.map((mv) => mv.modelVersionId),
        nextPageToken: page.nextPageToken,
      };
    });
    await writer;
    const { modelVersions: all } = await registry.listModelVersions({
      tenantId,
      taskId,
      orderBy: 'created_at',
      pageSize: 500,
    });
    expect(all.map((mv) => mv.version)).toEqual(all.map((_, index) => index + 1));
    // What the reader saw is what was there, in order, up to where it stopped: nothing repeated,
    // nothing skipped.
    expect(read).toEqual(all.slice(0, read.length).map((mv) => mv.modelVersionId));
    expect(read.slice(0, existing.length)).toEqual(existing);
  });

  it('registers once per request id, with lineage checks and the artifact described', async () => {
    const tenantId = uniqueName('tenant');
    const taskId = uniqueName('task');
    const dataset = await createdDataset(registry, tenantId, taskId);
    const file = (key: string, sizeBytes: bigint) =>
      create(ObjectRefSchema, { bucket: 'understudy', key, sizeBytes, sha256: 'ef'.repeat(32) });
    const input = modelVersionOf(dataset, {
      adapter: create(AdapterArtifactSchema, {
        bucket: 'understudy',
        prefix: 'runs/x/adapter/',
        files: [
          file('runs/x/adapter/adapter_model.safetensors', 8_650_000n),
          file('runs/x/adapter/adapter_config.json', 731n),
        ],
        loraRank: 8,
      }),
      license: 'apache-2.0',
      footprint: create(ModelFootprintSchema, {
        baseParameterCount: 494_000_000n,
        adapterParameterCount: 2_160_000n,
        servingMemoryBytes: 1_100_000_000n,
        dtype: 'bfloat16',
      }),
    });
    const requestId = randomUUID();
    const { modelVersion } = await registry.registerModelVersion({
      requestId,
      modelVersion: input,
    });
    expect(modelVersion).toMatchObject({
      registeredBy: operator,
      license: 'apache-2.0',
      footprint: { baseParameterCount: 494_000_000n, dtype: 'bfloat16' },
      adapter: { sizeBytes: 8_650_731n, format: AdapterFormat.PEFT_LORA_SAFETENSORS, loraRank: 8 },
      requestId,
    });
    const again = await registry.registerModelVersion({ requestId, modelVersion: input });
    expect(again.modelVersion).toEqual(modelVersion);
    await expect(
      registry.registerModelVersion({
        requestId,
        modelVersion: { ...input, metrics: { train_loss: 0.4 } },
      }),
    ).rejects.toMatchObject({ code: ErrorCode.AlreadyExists });
    const { modelVersion: read } = await registry.getModelVersion({
      tenantId,
      modelVersionId: modelVersion?.modelVersionId ?? '',
    });
    expect(read).toEqual(modelVersion);

    // The dataset must be the registry's, and of the same task; the run may not be known yet.
    const unknown = modelVersionOf(dataset, { datasetId: randomUUID() });
    await expect(
      registry.registerModelVersion({ requestId: randomUUID(), modelVersion: unknown }),
    ).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });
    const elsewhere = await createdDataset(registry, uniqueName('tenant'), taskId);
    await expect(
      registry.registerModelVersion({
        requestId: randomUUID(),
        modelVersion: modelVersionOf(dataset, { datasetId: elsewhere.datasetId }),
      }),
    ).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });
    const otherTask = await createdDataset(registry, tenantId, uniqueName('task'));
    await expect(
      registry.registerModelVersion({
        requestId: randomUUID(),
        modelVersion: modelVersionOf(dataset, { datasetId: otherTask.datasetId }),
      }),
    ).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });

    // Datasets are checked for what training and lineage need, every fault named.
    await expect(
      registry.createDataset({
        requestId: randomUUID(),
        dataset: create(DatasetSchema, {
          ...datasetOf(tenantId, taskId),
          train: undefined,
          sourceWindow: undefined,
        }),
      }),
    ).rejects.toMatchObject({
      ...invalid,
      message: expect.stringMatching(
        /dataset\.train must be set.*dataset\.source_window/,
      ) as unknown,
    });
  });

  it('updates description and labels under an etag, with an event and an audit entry', async () => {
    const tenantId = uniqueName('tenant');
    const version = await registeredOn(
      registry,
      await createdDataset(registry, tenantId, uniqueName('task')),
      {
        description: 'first cut',
        labels: { team: 'billing' },
      },
    );
    const update = (fields: Partial<ModelVersion>, paths: string[]) =>
      registry.updateModelVersion({
        modelVersion: create(ModelVersionSchema, { ...version, ...fields }),
        updateMask: { $typeName: 'google.protobuf.FieldMask', paths },
      });

    const described = (await update({ description: 'distilled from gpt-4.1' }, ['description']))
      .modelVersion;
    expect(described).toMatchObject({
      description: 'distilled from gpt-4.1',
      labels: { team: 'billing' },
      stage: version.stage,
    });
    expect(described?.etag).not.toBe(version.etag);
    // The version changed since `version` was read.
    await expect(update({ labels: { team: 'support' } }, ['labels'])).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
    const labelled = (
      await update(
        { etag: described?.etag ?? '', description: 'ignored', labels: { team: 'support' } },
        ['labels'],
      )
    ).modelVersion;
    expect(labelled).toMatchObject({
      description: 'distilled from gpt-4.1',
      labels: { team: 'support' },
    });
    // Changing nothing is no change.
    const same = await update({ ...labelled, etag: labelled?.etag ?? '' }, []);
    expect(same.modelVersion?.etag).toBe(labelled?.etag);
    // An empty etag skips the check; an empty mask takes both fields.
    const both = await update({ etag: '', description: '', labels: {} }, []);
    expect(both.modelVersion).toMatchObject({ description: '', labels: {} });

    await expect(update({ etag: '' }, ['stage'])).rejects.toMatchObject(invalid);
    await expect(
      update({ etag: '', modelVersionId: randomUUID() }, ['description']),
    ).rejects.toMatchObject({ code: ErrorCode.NotFound });
    await expect(
      update({ etag: '', tenantId: uniqueName('tenant') }, ['description']),
    ).rejects.toMatchObject({ code: ErrorCode.NotFound });

    await expect
      .poll(
        () =>
          modelVersionEvents
            .filter((event) => event.modelVersionId === version.modelVersionId)
            .map((event) => event.kind.case),
        { timeout: 20_000 },
      )
      .toEqual(['registered', 'updated', 'updated', 'updated']);
    const { auditEntries } = await registry.listAuditEntries({
      tenantId,
      resourceType: ResourceType.MODEL_VERSION,
      resourceId: version.modelVersionId,
      orderBy: 'occurred_at',
    });
    expect(auditEntries.map((entry) => entry.action)).toEqual([
      'RegisterModelVersion',
      'UpdateModelVersion',
      'UpdateModelVersion',
      'UpdateModelVersion',
    ]);
    expect(new Set(auditEntries.map((entry) => entry.actor))).toEqual(new Set([operator]));
    expect(auditEntries[1]?.details).toEqual({
      description: { from: 'first cut', to: 'distilled from gpt-4.1' },
    });
  });

  it('follows lineage across merges and splits, with runs, their history and evaluations', async () => {
    const tenantId = uniqueName('tenant');
    const [a, b, merged, left, right] = ['a', 'b', 'ab', 'ab-1', 'ab-2'].map((name) =>
      uniqueName(`task-${name}`),
    ) as [string, string, string, string, string];
    for (const taskId of [a, b])
      await peer.publish(topics.tasks, discovered(taskOf(tenantId, taskId)));

    // Each source task got a dataset, a run and a version before the merge.
    const built = new Map<string, { dataset: Dataset; version: ModelVersion; runId: string }>();
    for (const taskId of [a, b]) {
      const dataset = await createdDataset(registry, tenantId, taskId);
      const runId = randomUUID();
      built.set(taskId, {
        dataset,
        runId,
        version: await registeredOn(registry, dataset, { runId }),
      });
    }
    const ofA = built.get(a);
    const ofB = built.get(b);
    if (ofA === undefined || ofB === undefined) throw new Error('not built');

    // Task a's run, its events arriving out of order and one of them twice.
    const runEvent = (kind: TrainingRunEvent['kind'], occurredAt: Timestamp) =>
      create(TrainingRunEventSchema, {
        meta: meta(tenantId, occurredAt),
        runId: ofA.runId,
        taskId: a,
        kind,
      });
    const logs = create(ObjectRefSchema, {
      bucket: 'logs',
      key: `runs/${ofA.runId}/attempt-1.log`,
    });
    const started = runEvent(
      {
        case: 'started',
        value: {
          $typeName: 'understudy.v1.TrainingRunStarted',
          jobName: 'train-a-1',
          attempt: 1,
          logs,
        },
      },
      day(2, 1),
    );
    for (const event of [
      runEvent(
        {
          case: 'succeeded',
          value: { $typeName: 'understudy.v1.TrainingRunSucceeded', metrics: { train_loss: 0.2 } },
        },
        day(2, 3),
      ),
      started,
      runEvent(
        {
          case: 'requested',
          value: {
            $typeName: 'understudy.v1.TrainingRunRequested',
            run: create(TrainingRunSchema, {
              runId: ofA.runId,
              tenantId,
              taskId: a,
              datasetId: ofA.dataset.datasetId,
              baseModel: 'tiny-random:llama',
              requestedBy: 'ops@example.com',
              state: TrainingRunState.QUEUED,
              createdAt: day(2),
            }),
          },
        },
        day(2),
      ),
      started,
    ]) {
      await peer.publish(topics.trainingRuns, event);
    }

    const { evaluation } = await registry.createEvaluation({
      requestId: randomUUID(),
      evaluation: {
        tenantId,
        modelVersionId: ofA.version.modelVersionId,
        kind: EvaluationKind.OFFLINE,
        datasetId: ofA.dataset.datasetId,
        split: DatasetSplit.EVAL,
        evaluatorVersion: 'json-field-match@1',
        teacherModel: 'gpt-4.1',
        exampleCount: 20n,
        metrics: { exact_match: 0.93 },
        verdict: EvaluationVerdict.PASSED,
      },
    });

    const { approval } = await reviewing.approveModelVersion({
      requestId: randomUUID(),
      tenantId,
      modelVersionId: ofA.version.modelVersionId,
      targetStage: ModelStage.PRODUCTION,
      etag: ofA.version.etag,
      comment: 'parity on the held-out split',
    });
    expect(approval).toMatchObject({ approver: reviewer });

    // a and b merge into a new task, which is split in two; each new task gets its own records.
    await peer.publish(
      topics.tasks,
      taskEvent(tenantId, {
        case: 'merged',
        value: { sourceTaskIds: [a, b], task: taskOf(tenantId, merged) },
      }),
    );
    const mergedDataset = await createdDataset(registry, tenantId, merged);
    const mergedVersion = await registeredOn(registry, mergedDataset);
    await peer.publish(
      topics.tasks,
      taskEvent(tenantId, {
        case: 'split',
        value: { sourceTaskId: merged, tasks: [taskOf(tenantId, left), taskOf(tenantId, right)] },
      }),
    );
    const leftVersion = await registeredOn(
      registry,
      await createdDataset(registry, tenantId, left),
    );

    const lineage = (taskId: string, includePredecessors: boolean) =>
      registry.getTaskLineage({ tenantId, taskId, includePredecessors });
    await expect
      .poll(async () => (await lineage(left, true)).predecessorTaskIds, {
        timeout: 30_000,
        interval: 200,
      })
      .toEqual([merged, ...[a, b].sort()]);
    const full = await lineage(left, true);
    const ids = (items: { modelVersionId: string }[]) => items.map((item) => item.modelVersionId);
    // Newest first, across the tasks.
    expect(ids(full.modelVersions)).toEqual(
      ids([leftVersion, mergedVersion, ofB.version, ofA.version]),
    );
    expect(full.datasets).toHaveLength(4);
    expect(full.evaluations.map((item) => item.evaluationId)).toEqual([evaluation?.evaluationId]);
    expect(full.task).toMatchObject({ taskId: left, state: TaskState.ACTIVE });

    const own = await lineage(left, false);
    expect(own.predecessorTaskIds).toEqual([]);
    expect(ids(own.modelVersions)).toEqual(ids([leftVersion]));
    expect(own.evaluations).toEqual([]);
    expect((await lineage(merged, true)).predecessorTaskIds).toEqual([a, b].sort());
    expect((await lineage(a, true)).predecessorTaskIds).toEqual([]);
    const { task: retired } = await registry.getTask({ tenantId, taskId: merged });
    expect(retired).toMatchObject({ state: TaskState.RETIRED, successorTaskIds: [left, right] });

    // From a version back to its run (history and all), dataset, task and evaluations.
    await expect
      .poll(
        async () => {
          const { trainingRun } = await registry.getModelVersionLineage({
            tenantId,
            modelVersionId: ofA.version.modelVersionId,
          });
          return trainingRun?.history.map((step) => [step.state, step.attempt]);
        },
        { timeout: 30_000, interval: 200 },
      )
      .toEqual([
        [TrainingRunState.QUEUED, 0],
        [TrainingRunState.RUNNING, 1],
        [TrainingRunState.SUCCEEDED, 1],
      ]);
    const versionLineage = await registry.getModelVersionLineage({
      tenantId,
      modelVersionId: ofA.version.modelVersionId,
    });
    expect(versionLineage.trainingRun).toMatchObject({
      state: TrainingRunState.SUCCEEDED,
      requestedBy: 'ops@example.com',
      jobName: 'train-a-1',
      logs: { bucket: 'logs', key: logs.key },
      datasetId: ofA.dataset.datasetId,
      startedAt: day(2, 1),
      finishedAt: day(2, 3),
    });
    expect(versionLineage).toMatchObject({
      dataset: { datasetId: ofA.dataset.datasetId },
      task: { taskId: a, state: TaskState.RETIRED, successorTaskIds: [merged] },
      sourceWindow: ofA.dataset.sourceWindow,
    });
    expect(versionLineage.evaluations).toEqual([evaluation]);
    expect(versionLineage.approvals).toEqual([approval]);
  });
});
