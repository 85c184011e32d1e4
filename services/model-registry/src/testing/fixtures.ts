import { createHash, randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AdapterArtifactSchema,
  DatasetSchema,
  ModelVersionSchema,
  ObjectRefSchema,
  TimeWindowSchema,
  type Dataset,
  type ModelRegistryService,
  type ModelVersion,
} from '@understudy/contracts';
import type { Client } from '@understudy/grpc';

/** A built dataset of a task, as the dataset builder records it. */
export function datasetOf(tenantId: string, taskId: string): Dataset {
  const datasetId = randomUUID();
  const ref = (split: string) =>
    create(ObjectRefSchema, {
      bucket: 'datasets',
      key: `${tenantId}/${taskId}/${datasetId}/${split}.jsonl`,
      sha256: createHash('sha256').update(split).digest('hex'),
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

/** A new dataset of the task and a model version trained on it, at REGISTERED. */
export async function registeredVersion(
  registry: Client<typeof ModelRegistryService>,
  tenantId: string,
  taskId: string,
  labels: Record<string, string> = {},
): Promise<{ dataset: Dataset; modelVersion: ModelVersion }> {
  const { dataset } = await registry.createDataset({
    requestId: randomUUID(),
    dataset: datasetOf(tenantId, taskId),
  });
  if (dataset === undefined) throw new Error('no dataset');
  const { modelVersion } = await registry.registerModelVersion({
    requestId: randomUUID(),
    modelVersion: create(ModelVersionSchema, {
      tenantId,
      taskId,
      runId: randomUUID(),
      datasetId: dataset.datasetId,
      baseModel: 'tiny-random:llama',
      adapter: create(AdapterArtifactSchema, { bucket: 'understudy', prefix: 'runs/x/adapter/' }),
      metrics: { train_loss: 0.5 },
      labels,
    }),
  });
  if (modelVersion === undefined) throw new Error('no model version');
  return { dataset, modelVersion };
}
