/** Registry contents for the benchmarks, made through its own RPCs. */
import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { AdapterArtifactSchema, type ModelVersion } from '@understudy/contracts';
import { createdDataset, registeredOn } from '../src/testing/fixtures.ts';
import type { RegistryClient } from './bench-bed.ts';

/** A new task of `tenantId` with a dataset and `versions` registered versions of it. */
export async function seedTask(
  client: RegistryClient,
  tenantId: string,
  taskId: string,
  versions: number,
): Promise<ModelVersion[]> {
  const dataset = await createdDataset(client, tenantId, taskId);
  const registered: ModelVersion[] = [];
  for (let i = 0; i < versions; i += 1) {
    registered.push(
      await registeredOn(client, dataset, {
        baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
        adapter: create(AdapterArtifactSchema, {
          bucket: 'understudy',
          prefix: `runs/${randomUUID()}/adapter/`,
        }),
        metrics: { train_loss: 0.4, exact_match: 0.93 },
        labels: { team: 'support' },
      }),
    );
  }
  return registered;
}

/** Runs `work` over `items`, `parallel` at a time. */
export async function inParallel<T, R>(
  items: readonly T[],
  parallel: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) {
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return results;
}
