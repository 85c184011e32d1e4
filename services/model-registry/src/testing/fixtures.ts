import { createHash, randomUUID } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AdapterArtifactSchema,
  DatasetSchema,
  ModelStage,
  ModelVersionSchema,
  ObjectRefSchema,
  TimeWindowSchema,
  type Dataset,
  type ModelRegistryService,
  type ModelVersion,
  type WatchRoutingTableResponse,
} from '@understudy/contracts';
import type { Client } from '@understudy/grpc';

type Registry = Client<typeof ModelRegistryService>;

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
