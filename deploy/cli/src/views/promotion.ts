import {
  ModelStageSchema,
  type ApproveModelVersionResponse,
  type GuardResult,
  type PromoteModelVersionResponse,
  type RollbackRouteResponse,
} from '@understudy/contracts';
import { sheet, table } from '../format/table.js';
import { enumLabel, isoTime, list } from '../format/values.js';
import type { Layout } from '../output.js';
import { stageOf } from './models.js';
import { routeTable } from './routes.js';

export function guardTable(results: readonly GuardResult[], layout: Layout): string {
  if (results.length === 0) return 'No guards apply.\n';
  return table(
    results,
    [
      { header: 'guard', value: (g) => g.guard, max: 100 },
      { header: 'result', value: (g) => (g.passed ? 'passed' : 'failed') },
      { header: 'violations', value: (g) => list(g.violations), max: 60 },
    ],
    layout,
  );
}

/** A promotion made: where the version stands now, the task's routes, and the guards it passed. */
export function promotionView(response: PromoteModelVersionResponse, layout: Layout): string {
  const version = response.modelVersion;
  const headline = version
    ? `Model version ${version.modelVersionId} is now ${stageOf(version)} (routing revision ${String(response.revision)}).`
    : `Promoted (routing revision ${String(response.revision)}).`;
  return [
    `${headline}\n`,
    `Routes of the task:\n${routeTable(response.routes, layout)}`,
    ...(response.guardResults.length === 0
      ? []
      : [`Guards:\n${guardTable(response.guardResults, layout)}`]),
  ].join('\n');
}

/** A dry run: whether the promotion would pass, and each guard's verdict. */
export function dryRunView(
  response: PromoteModelVersionResponse,
  target: string,
  layout: Layout,
): string {
  const passed = response.guardResults.every((g) => g.passed);
  const id = response.modelVersion?.modelVersionId ?? 'the model version';
  return [
    `Dry run: ${id} ${passed ? 'may move' : 'may not move'} to ${target}; nothing changed.\n`,
    guardTable(response.guardResults, layout),
  ].join('\n');
}

export function rollbackView(
  response: RollbackRouteResponse,
  taskId: string,
  layout: Layout,
): string {
  return [
    `Rolled back task ${taskId} (routing revision ${String(response.revision)}).\n`,
    `Routes of the task:\n${routeTable(response.routes, layout)}`,
  ].join('\n');
}

export function approvalView(response: ApproveModelVersionResponse): string {
  const approval = response.approval;
  if (approval === undefined) return 'Approved.\n';
  return sheet([
    ['Approval', approval.approvalId],
    ['Model version', approval.modelVersionId],
    ['For stage', enumLabel(ModelStageSchema, approval.targetStage)],
    ['Approver', approval.approver],
    ['Comment', approval.comment],
    ['Version etag', approval.modelVersionEtag],
    ['Created', isoTime(approval.createdAt)],
  ]);
}
