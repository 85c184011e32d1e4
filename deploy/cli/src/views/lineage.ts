import {
  DatasetSplitSchema,
  EvaluationKindSchema,
  EvaluationVerdictSchema,
  ModelStageSchema,
  TaskStateSchema,
  TrainingRunStateSchema,
  type Approval,
  type Dataset,
  type Evaluation,
  type GetModelVersionLineageResponse,
  type GetTaskLineageResponse,
  type ModelVersion,
  type Route,
  type Task,
  type TimeWindow,
  type TrainingRun,
} from '@understudy/contracts';
import { tree, type TreeNode } from '../format/tree.js';
import { enumLabel, isoTime, metrics, none, percent } from '../format/values.js';
import { stageOf } from './models.js';

/** Parts of a line, blank ones left out, two spaces apart. */
function line(...parts: (string | false | undefined)[]): string {
  return parts.filter((p): p is string => typeof p === 'string' && p !== '').join('  ');
}

function quoted(text: string): string | undefined {
  return text === '' ? undefined : JSON.stringify(text);
}

function window(value: TimeWindow | undefined): string | undefined {
  return value && `calls ${isoTime(value.startTime)} … ${isoTime(value.endTime)}`;
}

/** Records of a predecessor task say so, since the tree hangs them under its successor. */
function fromTask(record: { taskId: string }, taskId: string | undefined): string | undefined {
  return taskId === undefined || record.taskId === taskId ? undefined : `(task ${record.taskId})`;
}

function taskLabel(task: Task): string {
  return line(`task ${task.taskId}`, quoted(task.label), enumLabel(TaskStateSchema, task.state));
}

function datasetLabel(dataset: Dataset, taskId?: string): string {
  return line(
    `dataset ${dataset.datasetId}`,
    `v${String(dataset.version)}`,
    `${String(dataset.trainExampleCount)} train / ${String(dataset.evalExampleCount)} eval`,
    window(dataset.sourceWindow),
    fromTask(dataset, taskId),
  );
}

function runLabel(run: TrainingRun, taskId?: string): string {
  return line(
    `training run ${run.runId}`,
    enumLabel(TrainingRunStateSchema, run.state),
    run.baseModel,
    run.jobName && `job ${run.jobName}`,
    run.requestedBy && `by ${run.requestedBy}`,
    fromTask(run, taskId),
  );
}

function versionLabel(version: ModelVersion, taskId?: string): string {
  return line(
    `model version ${version.modelVersionId}`,
    `v${String(version.version)}`,
    stageOf(version),
    version.baseModel,
    fromTask(version, taskId),
  );
}

function evaluationLabel(evaluation: Evaluation): string {
  return line(
    `evaluation ${evaluation.evaluationId}`,
    [
      enumLabel(EvaluationKindSchema, evaluation.kind),
      enumLabel(DatasetSplitSchema, evaluation.split),
    ]
      .filter((label) => label !== none)
      .join('/'),
    enumLabel(EvaluationVerdictSchema, evaluation.verdict),
    metrics(evaluation.metrics),
    evaluation.evaluatorVersion,
    isoTime(evaluation.createdAt),
  );
}

function approvalLabel(approval: Approval): string {
  return line(
    `approved for ${enumLabel(ModelStageSchema, approval.targetStage)}`,
    `by ${approval.approver}`,
    isoTime(approval.createdAt),
    quoted(approval.comment),
  );
}

function routeLabel(route: Route): string {
  return line(
    `route ${route.routeId}`,
    enumLabel(ModelStageSchema, route.stage),
    percent(route.trafficPercent),
    route.endpoint && `→ ${route.endpoint}`,
  );
}

function section(title: string, children: TreeNode[]): TreeNode[] {
  return children.length === 0 ? [] : [{ label: title, children }];
}

/** Where one model version came from: its task, dataset, run, evaluations and approvals. */
export function modelVersionLineageTree(lineage: GetModelVersionLineageResponse): string {
  const version = lineage.modelVersion;
  if (version === undefined) return 'No model version.\n';
  const unknown = (kind: string, id: string): TreeNode[] =>
    id === '' ? [] : [{ label: `${kind} ${id}  (no record in the registry)` }];
  return tree({
    label: versionLabel(version),
    children: [
      ...(lineage.task ? [{ label: taskLabel(lineage.task) }] : unknown('task', version.taskId)),
      ...(lineage.dataset
        ? [{ label: datasetLabel(lineage.dataset) }]
        : unknown('dataset', version.datasetId)),
      ...(lineage.trainingRun
        ? [{ label: runLabel(lineage.trainingRun) }]
        : unknown('training run', version.runId)),
      ...(lineage.sourceWindow && !lineage.dataset
        ? [{ label: `learned from ${window(lineage.sourceWindow) ?? ''}` }]
        : []),
      ...section(
        'evaluations',
        lineage.evaluations.map((e) => ({ label: evaluationLabel(e) })),
      ),
      ...section(
        'approvals',
        lineage.approvals.map((a) => ({ label: approvalLabel(a) })),
      ),
    ],
  });
}

/**
 * Everything built for a task, as it was built: datasets, the runs trained on each, the versions
 * each run produced, and under a version its evaluations and routes. Records whose parent is not
 * in the answer hang under the task itself.
 */
export function taskLineageTree(lineage: GetTaskLineageResponse, askedTaskId: string): string {
  const taskId = lineage.task?.taskId ?? askedTaskId;
  const datasetIds = new Set(lineage.datasets.map((d) => d.datasetId));
  const runIds = new Set(lineage.trainingRuns.map((r) => r.runId));

  const versionNode = (version: ModelVersion): TreeNode => ({
    label: versionLabel(version, taskId),
    children: [
      ...lineage.evaluations
        .filter((e) => e.modelVersionId === version.modelVersionId)
        .map((e) => ({ label: evaluationLabel(e) })),
      ...lineage.routes
        .filter((r) => r.modelVersionId === version.modelVersionId)
        .map((r) => ({ label: routeLabel(r) })),
    ],
  });
  const runNode = (run: TrainingRun): TreeNode => ({
    label: runLabel(run, taskId),
    children: lineage.modelVersions.filter((v) => v.runId === run.runId).map(versionNode),
  });
  const datasetNode = (dataset: Dataset): TreeNode => ({
    label: datasetLabel(dataset, taskId),
    children: [
      ...lineage.trainingRuns.filter((r) => r.datasetId === dataset.datasetId).map(runNode),
      ...lineage.modelVersions
        .filter((v) => !runIds.has(v.runId) && v.datasetId === dataset.datasetId)
        .map(versionNode),
    ],
  });
  const modelVersionIds = new Set(lineage.modelVersions.map((v) => v.modelVersionId));

  return tree({
    label: lineage.task ? taskLabel(lineage.task) : `task ${taskId}  (no record in the registry)`,
    children: [
      ...(lineage.predecessorTaskIds.length === 0
        ? []
        : [{ label: `succeeds ${lineage.predecessorTaskIds.join(', ')}` }]),
      ...lineage.datasets.map(datasetNode),
      ...lineage.trainingRuns.filter((r) => !datasetIds.has(r.datasetId)).map(runNode),
      ...lineage.modelVersions
        .filter((v) => !runIds.has(v.runId) && !datasetIds.has(v.datasetId))
        .map(versionNode),
      ...lineage.routes
        .filter((r) => !modelVersionIds.has(r.modelVersionId))
        .map((r) => ({ label: routeLabel(r) })),
    ],
  });
}
