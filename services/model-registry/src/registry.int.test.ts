import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import {
  EventMetaSchema,
  type ModelRegistryService,
  ModelStage,
  TaskEventSchema,
  TaskSchema,
  TaskState,
  TrainingRunEventSchema,
  TrainingRunSchema,
  TrainingRunState,
  type ModelVersion,
  type ModelVersionEvent,
  type RouteEvent,
} from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import type { Client } from '@understudy/grpc';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { postgresUrl, type RunningService } from '@understudy/service';
import { createDatabase, uniqueName } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { collect, datasetOf, registeredOn, registeredVersion } from './testing/fixtures.js';
import { startRegistry } from './testing/start.js';

let service: RunningService<typeof settings>;
let registry: Client<typeof ModelRegistryService>;
/** Another service on the same broker: publishes views' events, reads the registry's. */
let peer: Messaging;
const modelVersionEvents: ModelVersionEvent[] = [];
const routeEvents: RouteEvent[] = [];

beforeAll(async () => {
  const { kafka, postgres } = inject('testbed');
  const database = await createDatabase(postgres, uniqueName('registry'));
  const started = await startRegistry(kafka.brokers, postgresUrl(database));
  service = started.service;
  registry = started.connect();
  peer = new Messaging({
    driver: new KafkaDriver({ brokers: kafka.brokers, clientId: uniqueName('peer') }),
    producerName: 'registry-test',
  });
  const group = uniqueName('registry-test');
  peer.on(topics.modelVersions, { group }, (event) => {
    modelVersionEvents.push(event);
  });
  peer.on(topics.routes, { group: `${group}-routes` }, (event) => {
    routeEvents.push(event);
  });
  await peer.start();
});

afterAll(async () => {
  registry.close();
  await peer.stop();
  await service.stop();
});

/** A new dataset of the task and a version trained on it, at REGISTERED. */
const registered = async (tenantId: string, taskId: string): Promise<ModelVersion> =>
  (await registeredVersion(registry, tenantId, taskId)).modelVersion;

describe('model registry on PostgreSQL and Kafka', () => {
  it('registers, promotes, serves the routing table and streams the change to watchers', async () => {
    const tenantId = uniqueName('tenant');
    const taskId = uniqueName('task');
    const dataset = datasetOf(tenantId, taskId);
    const requestId = randomUUID();
    const created = await registry.createDataset({ requestId, dataset });
    expect(created.dataset).toMatchObject({ datasetId: dataset.datasetId, version: 1 });
    expect((await registry.createDataset({ requestId, dataset })).dataset).toEqual(created.dataset);
    await expect(
      registry.createDataset({ requestId, dataset: { ...dataset, trainExampleCount: 1n } }),
    ).rejects.toMatchObject({ code: ErrorCode.AlreadyExists });

    // The views, as the clusterer and the trainer orchestrator announce them.
    const runId = randomUUID();
    const meta = () => create(EventMetaSchema, { eventId: randomUUID(), tenantId });
    const taskEvent = create(TaskEventSchema, {
      meta: meta(),
      kind: {
        case: 'discovered',
        value: {
          task: create(TaskSchema, {
            taskId,
            tenantId,
            label: 'Extract invoice fields',
            revision: 1n,
            state: TaskState.ACTIVE,
          }),
        },
      },
    });
    await peer.publish(topics.tasks, taskEvent);
    await peer.publish(topics.tasks, taskEvent); // redelivery changes nothing
    await peer.publish(
      topics.trainingRuns,
      create(TrainingRunEventSchema, {
        meta: meta(),
        runId,
        taskId,
        kind: {
          case: 'requested',
          value: {
            run: create(TrainingRunSchema, {
              runId,
              tenantId,
              taskId,
              datasetId: dataset.datasetId,
              baseModel: 'tiny-random:llama',
              state: TrainingRunState.QUEUED,
            }),
          },
        },
      }),
    );
    await peer.publish(
      topics.trainingRuns,
      create(TrainingRunEventSchema, {
        meta: meta(),
        runId,
        taskId,
        kind: { case: 'succeeded', value: { metrics: { train_loss: 0.5 } } },
      }),
    );

    const version = await registeredOn(registry, dataset, { runId });
    expect(version).toMatchObject({ stage: ModelStage.REGISTERED, version: 1, trafficPercent: 0 });

    const watch = collect(registry.watchRoutingTable({ tenantId }, { timeoutMs: Infinity }));
    await expect.poll(() => watch.length).toBe(1);
    const [first] = watch;
    expect(first?.kind.case).toBe('snapshot');
    const before = first?.kind.case === 'snapshot' ? first.kind.value : undefined;
    expect(before?.routes).toEqual([]);

    const promotedAt = Date.now();
    const promotion = await registry.promoteModelVersion({
      requestId: randomUUID(),
      tenantId,
      modelVersionId: version.modelVersionId,
      targetStage: ModelStage.PRODUCTION,
      etag: version.etag,
      reason: 'offline evaluation passed',
    });
    expect(promotion.modelVersion).toMatchObject({
      stage: ModelStage.PRODUCTION,
      trafficPercent: 100,
    });
    expect(promotion.revision).toBeGreaterThan(before?.revision ?? 0n);
    expect(promotion.routes).toHaveLength(1);

    await expect.poll(() => watch.length, { timeout: 1_000, interval: 20 }).toBe(2);
    expect(Date.now() - promotedAt).toBeLessThan(1_000);
    const change = watch[1]?.kind;
    expect(change?.case).toBe('change');
    if (change?.case !== 'change') return;
    expect(change.value).toMatchObject({ revision: promotion.revision, tenantId });
    expect(change.value.routes).toEqual([
      expect.objectContaining({
        taskId,
        modelVersionId: version.modelVersionId,
        servingName: version.servingName,
        endpoint: 'http://slm.test:8000/v1',
        stage: ModelStage.PRODUCTION,
        trafficPercent: 100,
      }),
    ]);

    const { routingTable } = await registry.getRoutingTable({ tenantId });
    expect(routingTable?.revision).toBe(promotion.revision);
    expect(routingTable?.routes.map((route) => route.modelVersionId)).toEqual([
      version.modelVersionId,
    ]);

    // Events, after commit.
    await expect
      .poll(
        () =>
          modelVersionEvents
            .filter((event) => event.meta?.tenantId === tenantId)
            .map((event) => event.kind.case),
        { timeout: 15_000 },
      )
      .toEqual(['registered', 'promoted']);
    await expect
      .poll(
        () =>
          routeEvents
            .filter((event) => event.meta?.tenantId === tenantId)
            .map((event) => event.revision),
        { timeout: 15_000 },
      )
      .toEqual([promotion.revision]);
    const published = modelVersionEvents.find((event) => event.meta?.tenantId === tenantId);
    expect(published?.meta).toMatchObject({ producer: 'model-registry' });
    expect(published?.meta?.eventId).toMatch(/^[0-9a-f-]{36}$/);

    // Lineage, once the views caught up with their events.
    await expect
      .poll(
        async () =>
          (
            await registry.getModelVersionLineage({
              tenantId,
              modelVersionId: version.modelVersionId,
            })
          ).trainingRun?.state,
        { timeout: 20_000 },
      )
      .toBe(TrainingRunState.SUCCEEDED);
    const lineage = await registry.getModelVersionLineage({
      tenantId,
      modelVersionId: version.modelVersionId,
    });
    expect(lineage.task).toMatchObject({ taskId, label: 'Extract invoice fields' });
    expect(lineage.dataset?.datasetId).toBe(dataset.datasetId);
    expect(lineage.sourceWindow).toEqual(dataset.sourceWindow);
    const taskLineage = await registry.getTaskLineage({ tenantId, taskId });
    expect(taskLineage.datasets.map((d) => d.datasetId)).toEqual([dataset.datasetId]);
    expect(taskLineage.trainingRuns.map((run) => run.runId)).toEqual([runId]);
    expect(taskLineage.modelVersions.map((mv) => mv.modelVersionId)).toEqual([
      version.modelVersionId,
    ]);
    expect(taskLineage.routes).toHaveLength(1);
  });

  it('replaces production, refuses backward moves, and resumes watchers from a revision', async () => {
    const tenantId = uniqueName('tenant');
    const taskId = uniqueName('task');
    const v1 = await registered(tenantId, taskId);
    const v2 = await registered(tenantId, taskId);
    expect(v2.version).toBe(2);
    const promote = (modelVersionId: string, targetStage: ModelStage, trafficPercent = 0) =>
      registry.promoteModelVersion({
        requestId: randomUUID(),
        tenantId,
        modelVersionId,
        targetStage,
        trafficPercent,
      });

    const first = await promote(v1.modelVersionId, ModelStage.PRODUCTION);
    const again = await promote(v1.modelVersionId, ModelStage.PRODUCTION);
    expect(again.revision).toBe(first.revision); // a repeated promotion changes nothing

    const watch = collect(
      registry.watchRoutingTable(
        { tenantId, fromRevision: first.revision },
        { timeoutMs: Infinity },
      ),
    );
    const canary = await promote(v2.modelVersionId, ModelStage.CANARY, 10);
    expect(canary.routes.map((route) => [route.stage, route.trafficPercent]).sort()).toEqual([
      [ModelStage.CANARY, 10],
      [ModelStage.PRODUCTION, 100],
    ]);
    const production = await promote(v2.modelVersionId, ModelStage.PRODUCTION);
    expect(production.routes.map((route) => route.modelVersionId)).toEqual([v2.modelVersionId]);
    const { modelVersion: former } = await registry.getModelVersion({
      tenantId,
      modelVersionId: v1.modelVersionId,
    });
    expect(former).toMatchObject({ stage: ModelStage.REGISTERED, trafficPercent: 0 });

    // Resumed from a revision: no snapshot, just the later changes in order.
    await expect.poll(() => watch.length).toBe(2);
    expect(watch.map((message) => message.kind.case)).toEqual(['change', 'change']);
    expect(
      watch.map((message) => (message.kind.case === 'change' ? message.kind.value.revision : 0n)),
    ).toEqual([canary.revision, production.revision]);

    await expect(promote(v2.modelVersionId, ModelStage.SHADOW, 5)).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringContaining('cannot be promoted to shadow') as unknown,
    });
    const { modelVersion: retired } = await registry.retireModelVersion({
      tenantId,
      modelVersionId: v2.modelVersionId,
      reason: 'obsolete',
    });
    expect(retired?.stage).toBe(ModelStage.RETIRED);
    expect((await registry.getTaskLineage({ tenantId, taskId })).routes).toEqual([]);
    await expect(promote(v2.modelVersionId, ModelStage.PRODUCTION)).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
    });

    const page1 = await registry.listModelVersions({
      tenantId,
      taskId,
      pageSize: 1,
      orderBy: 'version',
    });
    expect(page1.modelVersions.map((mv) => mv.version)).toEqual([1]);
    const page2 = await registry.listModelVersions({
      tenantId,
      taskId,
      pageSize: 1,
      orderBy: 'version',
      pageToken: page1.nextPageToken,
    });
    expect(page2.modelVersions.map((mv) => mv.version)).toEqual([2]);
    expect(page2.nextPageToken).toBe('');
    const retiredOnly = await registry.listModelVersions({
      tenantId,
      stages: [ModelStage.RETIRED],
    });
    expect(retiredOnly.modelVersions.map((mv) => mv.modelVersionId)).toEqual([v2.modelVersionId]);
  });

  it('lets one of two concurrent promotions win', async () => {
    const tenantId = uniqueName('tenant');
    const taskId = uniqueName('task');
    const version = await registered(tenantId, taskId);
    const outcomes = await Promise.allSettled([
      registry.promoteModelVersion({
        requestId: randomUUID(),
        tenantId,
        modelVersionId: version.modelVersionId,
        targetStage: ModelStage.CANARY,
        trafficPercent: 10,
        etag: version.etag,
      }),
      registry.promoteModelVersion({
        requestId: randomUUID(),
        tenantId,
        modelVersionId: version.modelVersionId,
        targetStage: ModelStage.PRODUCTION,
        etag: version.etag,
      }),
    ]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.find((outcome) => outcome.status === 'rejected')?.reason).toMatchObject({
      code: ErrorCode.Aborted,
    });

    // Two versions racing for the task's single shadow slot.
    const [a, b] = await Promise.all([registered(tenantId, taskId), registered(tenantId, taskId)]);
    const race = await Promise.allSettled(
      [a, b].map((mv) =>
        registry.promoteModelVersion({
          requestId: randomUUID(),
          tenantId,
          modelVersionId: mv.modelVersionId,
          targetStage: ModelStage.SHADOW,
          trafficPercent: 50,
        }),
      ),
    );
    expect(race.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(race.find((outcome) => outcome.status === 'rejected')?.reason).toMatchObject({
      code: ErrorCode.FailedPrecondition,
    });
  });

  it('never shows a tenant the rows of another', async () => {
    const owner = uniqueName('tenant');
    const other = uniqueName('tenant');
    const taskId = uniqueName('task');
    const dataset = datasetOf(owner, taskId);
    await registry.createDataset({ requestId: randomUUID(), dataset });
    const version = await registeredOn(registry, dataset);
    await registry.promoteModelVersion({
      requestId: randomUUID(),
      tenantId: owner,
      modelVersionId: version.modelVersionId,
      targetStage: ModelStage.PRODUCTION,
    });

    const notFound = { code: ErrorCode.NotFound };
    await expect(
      registry.getModelVersion({ tenantId: other, modelVersionId: version.modelVersionId }),
    ).rejects.toMatchObject(notFound);
    await expect(
      registry.getDataset({ tenantId: other, datasetId: dataset.datasetId }),
    ).rejects.toMatchObject(notFound);
    await expect(
      registry.getModelVersionLineage({ tenantId: other, modelVersionId: version.modelVersionId }),
    ).rejects.toMatchObject(notFound);
    await expect(
      registry.promoteModelVersion({
        requestId: randomUUID(),
        tenantId: other,
        modelVersionId: version.modelVersionId,
        targetStage: ModelStage.PRODUCTION,
      }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/NOT_FOUND|INVALID_ARGUMENT/) as unknown,
    });
    await expect(
      registry.retireModelVersion({ tenantId: other, modelVersionId: version.modelVersionId }),
    ).rejects.toMatchObject(notFound);
    expect((await registry.listModelVersions({ tenantId: other, taskId })).modelVersions).toEqual(
      [],
    );
    expect((await registry.listDatasets({ tenantId: other, taskId })).datasets).toEqual([]);
    expect((await registry.getRoutingTable({ tenantId: other })).routingTable?.routes).toEqual([]);
    const lineage = await registry.getTaskLineage({ tenantId: other, taskId });
    expect([lineage.datasets, lineage.modelVersions, lineage.routes]).toEqual([[], [], []]);
    // The owner still sees everything.
    expect((await registry.listDatasets({ tenantId: owner, taskId })).datasets).toHaveLength(1);
  });
});
