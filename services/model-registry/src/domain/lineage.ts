import { create } from '@bufbuild/protobuf';
import {
  GetModelVersionLineageResponseSchema,
  GetTaskLineageResponseSchema,
  type GetModelVersionLineageResponse,
  type GetTaskLineageResponse,
} from '@understudy/contracts';
import type { DatasetStore } from '../drivers/datasets.js';
import type { ModelVersionStore } from '../drivers/model-versions.js';
import type { ReviewReader } from '../drivers/reviews.js';
import type { RoutingStore } from '../drivers/routing.js';
import type { TaskStore } from '../drivers/tasks.js';
import type { ViewStore } from '../drivers/views.js';
import { requireFields } from './validation.js';

/** What lineage reads: the registry's own records and its views of tasks and runs. */
export interface LineageSources {
  readonly tasks: Pick<TaskStore, 'find' | 'predecessorsOf'>;
  readonly datasets: Pick<DatasetStore, 'find' | 'ofTasks'>;
  readonly runs: Pick<ViewStore, 'findRun' | 'runsOfTasks'>;
  readonly modelVersions: Pick<ModelVersionStore, 'get' | 'ofTasks'>;
  readonly routing: Pick<RoutingStore, 'ofTask'>;
  readonly reviews: Pick<ReviewReader, 'evaluationsOf' | 'approvalsOf'>;
}

/**
 * The lineage graph: from a model version back to the calls it learned from, and from a task
 * forward to everything built for it. The views of tasks and runs come from Kafka and may lag,
 * so a record they do not hold yet is left out rather than failing the query.
 */
export class Lineage {
  constructor(private readonly sources: LineageSources) {}

  async ofModelVersion(
    tenantId: string,
    modelVersionId: string,
  ): Promise<GetModelVersionLineageResponse> {
    const { tasks, datasets, runs, modelVersions, reviews } = this.sources;
    const modelVersion = await modelVersions.get(tenantId, modelVersionId);
    const [trainingRun, dataset, task, evaluations, approvals] = await Promise.all([
      runs.findRun(tenantId, modelVersion.runId),
      datasets.find(tenantId, modelVersion.datasetId),
      tasks.find(tenantId, modelVersion.taskId),
      reviews.evaluationsOf(tenantId, [modelVersionId]),
      reviews.approvalsOf(tenantId, modelVersionId),
    ]);
    return create(GetModelVersionLineageResponseSchema, {
      modelVersion,
      ...(trainingRun && { trainingRun }),
      ...(dataset && { dataset }),
      ...(task && { task }),
      ...(dataset?.sourceWindow && { sourceWindow: dataset.sourceWindow }),
      evaluations,
      approvals,
    });
  }

  /**
   * Everything built for a task, and with `includePredecessors` for the tasks it succeeded
   * through merges and splits: a task that absorbed another still reaches the models trained
   * for it. Routes are the task's own; a predecessor is retired and routes nothing.
   */
  async ofTask(
    tenantId: string,
    taskId: string,
    includePredecessors: boolean,
  ): Promise<GetTaskLineageResponse> {
    requireFields({ tenant_id: tenantId, task_id: taskId });
    const { tasks, datasets, runs, modelVersions, routing, reviews } = this.sources;
    const predecessorTaskIds = includePredecessors
      ? await tasks.predecessorsOf(tenantId, taskId)
      : [];
    const taskIds = [taskId, ...predecessorTaskIds];
    const [task, taskDatasets, trainingRuns, versions, routes] = await Promise.all([
      tasks.find(tenantId, taskId),
      datasets.ofTasks(tenantId, taskIds),
      runs.runsOfTasks(tenantId, taskIds),
      modelVersions.ofTasks(tenantId, taskIds),
      routing.ofTask(tenantId, taskId),
    ]);
    const evaluations = await reviews.evaluationsOf(
      tenantId,
      versions.map((version) => version.modelVersionId),
    );
    return create(GetTaskLineageResponseSchema, {
      ...(task && { task }),
      datasets: taskDatasets,
      trainingRuns,
      modelVersions: versions,
      evaluations,
      routes,
      predecessorTaskIds,
    });
  }
}
