import { createHash, randomUUID } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AdapterArtifactSchema,
  DatasetSchema,
  EventMetaSchema,
  ModelStage,
  ModelVersionSchema,
  ObjectRefSchema,
  TaskEventSchema,
  TaskSchema,
  TaskState,
  TimeWindowSchema,
  type Dataset,
  type ModelRegistryService,
  type ModelVersion,
  type Task,
  type WatchRoutingTableResponse,
} from '@understudy/contracts';
import type { Client } from '@understudy/grpc';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';

type Registry = Client<typeof ModelRegistryService>;

/** The figures of `measuredTask` that tests of the savings report vary. */
export interface TaskFigures {
  /** Overall suitability. */
  readonly suitability: number;
  /** USD per 30 days on the LLM, and projected on a small model. */
  readonly currentCost: number;
  readonly projectedCost: number;
  /** Of the tenant's calls and LLM spend in the window. */
  readonly shareOfCalls: number;
  readonly shareOfSpend: number;
  /** The tenant's LLM spend per 30 days, as measured over the window. */
  readonly tenantCost: number;
  /** The end of the window measured. */
  readonly measuredAt: Date;
}

const week = 7 * 24 * 60 * 60 * 1000;

/**
 * An active task as the clusterer announces it after a re-clustering: scored, priced and with
 * its profile (every field set); `figures` and then `fields` win.
 */
export function measuredTask(
  tenantId: string,
  taskId: string,
  figures: Partial<TaskFigures> = {},
  fields: Partial<Omit<Task, '$typeName' | '$unknown'>> = {},
): Task {
  const {
    suitability = 0.8,
    currentCost = 100,
    projectedCost = 10,
    shareOfCalls = 0.1,
    shareOfSpend = 0.1,
    tenantCost = 1000,
    measuredAt = new Date('2026-01-08T00:00:00Z'),
  } = figures;
  return create(TaskSchema, {
    taskId,
    tenantId,
    label: 'Extract invoice fields as JSON',
    keywords: ['invoice', 'json'],
    agentName: 'billing-bot',
    state: TaskState.ACTIVE,
    callCount: 700n,
    callsPerDay: 100,
    revision: 1n,
    suitability: {
      overall: suitability,
      volume: 0.9,
      homogeneity: 0.85,
      outputConsistency: 0.8,
      contentCoverage: 1,
      successRate: 0.99,
      reasons: ['outputs follow one JSON schema'],
    },
    savings: {
      currency: 'USD',
      currentCostPerMonth: currentCost,
      projectedCostPerMonth: projectedCost,
      savingsPerMonth: currentCost - projectedCost,
      currentLatencyP50: durationFromMs(850),
      currentLatencyP95: durationFromMs(2100),
    },
    // Exact in float32, as the wire carries it.
    centroid: {
      values: [0.5, 0.5, 0.5, 0.5],
      dimension: 4,
      model: 'test-embedder',
      normalized: true,
    },
    profile: {
      window: {
        startTime: timestampFromDate(new Date(measuredAt.getTime() - week)),
        endTime: timestampFromDate(measuredAt),
      },
      windowCalls: 700n,
      shareOfCalls,
      shareOfSpend,
      meanInputTokens: 420,
      meanOutputTokens: 80,
      jsonOutputShare: 0.98,
      toolCallShare: 0,
      repeatedInputShare: 0.05,
      outputAgreement: 0.9,
      outputLengthVariation: 0.2,
      meanSimilarity: 0.87,
      errorShare: 0.01,
      tenantWindowCalls: 7000n,
      tenantCostPerMonth: tenantCost,
    },
    ...fields,
  });
}

/**
 * Announces `tasks` on these brokers as the clusterer does (TaskEvent.discovered, one per task);
 * a registry on them shows the tasks once its consumer has read the events.
 */
export async function announceTasks(
  brokers: readonly string[],
  tasks: readonly Task[],
): Promise<void> {
  const clusterer = new Messaging({
    driver: new KafkaDriver({ brokers, clientId: `test-clusterer-${randomUUID()}` }),
    producerName: 'test-clusterer',
  });
  await clusterer.connect();
  try {
    await clusterer.publishAll(
      topics.tasks,
      tasks.map((task) =>
        create(TaskEventSchema, {
          meta: create(EventMetaSchema, { eventId: randomUUID(), tenantId: task.tenantId }),
          kind: { case: 'discovered', value: { task } },
        }),
      ),
    );
  } finally {
    await clusterer.stop();
  }
}

/** A built dataset of a task, as the dataset builder records it. */
export function datasetOf(tenantId: string, taskId: string): Dataset {
  const datasetId = randomUUID();
  const ref = (split: string) =>
    create(ObjectRefSchema, {
      bucket: 'datasets',
      key: `${tenantId}/${taskId}/${datasetId}/${split}.jsonl`,
      sha256: createHash('sha256').update(`${datasetId}/${split}`).digest('hex'),
    });
  return create(DatasetSchema, {
    datasetId,
    tenantId,
    taskId,
    train: ref('train'),
    eval: ref('eval'),
    trainExampleCount: 80n,
    evalExampleCount: 20n,
    sourceWindow: create(TimeWindowSchema, {
      startTime: timestampFromDate(new Date('2026-01-01T00:00:00Z')),
      endTime: timestampFromDate(new Date('2026-01-08T00:00:00Z')),
    }),
  });
}

/** A model version trained on `dataset`, as the trainer orchestrator registers it; `fields` win. */
export function modelVersionOf(
  dataset: Dataset,
  fields: MessageInitShape<typeof ModelVersionSchema> = {},
): ModelVersion {
  return create(ModelVersionSchema, {
    tenantId: dataset.tenantId,
    taskId: dataset.taskId,
    runId: randomUUID(),
    datasetId: dataset.datasetId,
    baseModel: 'tiny-random:llama',
    adapter: create(AdapterArtifactSchema, { bucket: 'understudy', prefix: 'runs/x/adapter/' }),
    metrics: { train_loss: 0.5 },
    ...fields,
  });
}

/** A new dataset of the task, created in the registry. */
export async function createdDataset(
  registry: Registry,
  tenantId: string,
  taskId: string,
): Promise<Dataset> {
  const { dataset } = await registry.createDataset({
    requestId: randomUUID(),
    dataset: datasetOf(tenantId, taskId),
  });
  if (dataset === undefined) throw new Error('no dataset');
  return dataset;
}

/** `modelVersionOf(dataset, fields)` registered, at REGISTERED. */
export async function registeredOn(
  registry: Registry,
  dataset: Dataset,
  fields: MessageInitShape<typeof ModelVersionSchema> = {},
): Promise<ModelVersion> {
  const { modelVersion } = await registry.registerModelVersion({
    requestId: randomUUID(),
    modelVersion: modelVersionOf(dataset, fields),
  });
  if (modelVersion === undefined) throw new Error('no model version');
  return modelVersion;
}

/** A new dataset of the task and a model version trained on it, at REGISTERED. */
export async function registeredVersion(
  registry: Registry,
  tenantId: string,
  taskId: string,
): Promise<{ dataset: Dataset; modelVersion: ModelVersion }> {
  const dataset = await createdDataset(registry, tenantId, taskId);
  return { dataset, modelVersion: await registeredOn(registry, dataset) };
}

/** Promotes `version` straight to production; returns the routing table revision it made. */
export async function promoteToProduction(
  registry: Registry,
  version: ModelVersion,
  reason: string,
): Promise<bigint> {
  const { revision } = await registry.promoteModelVersion({
    requestId: randomUUID(),
    tenantId: version.tenantId,
    modelVersionId: version.modelVersionId,
    targetStage: ModelStage.PRODUCTION,
    etag: version.etag,
    reason,
  });
  return revision;
}

/** Reads a WatchRoutingTable stream into an array that fills as messages arrive. */
export function collect(
  stream: AsyncIterable<WatchRoutingTableResponse>,
): WatchRoutingTableResponse[] {
  const seen: WatchRoutingTableResponse[] = [];
  void (async () => {
    for await (const message of stream) seen.push(message);
  })().catch(() => undefined);
  return seen;
}
