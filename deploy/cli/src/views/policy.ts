import {
  DatasetSplitSchema,
  EvaluationKindSchema,
  ModelStageSchema,
  type PromotionGuard,
  type PromotionPolicy,
} from '@understudy/contracts';
import { sheet, table } from '../format/table.js';
import { enumLabel, isoTime, none, round } from '../format/values.js';
import type { Layout } from '../output.js';

function evaluation(guard: PromotionGuard): string {
  const kind = [
    enumLabel(EvaluationKindSchema, guard.evaluationKind),
    enumLabel(DatasetSplitSchema, guard.split),
  ]
    .filter((label) => label !== none)
    .join('/');
  if (kind === '') return none;
  return guard.evaluatorPrefix === '' ? kind : `${kind} ${guard.evaluatorPrefix}*`;
}

export function guardsTable(guards: readonly PromotionGuard[], layout: Layout): string {
  if (guards.length === 0) return 'No guards: promotions are unguarded.\n';
  return table(
    guards,
    [
      { header: 'from stage', value: (g) => enumLabel(ModelStageSchema, g.stage) },
      { header: 'evaluation', value: evaluation, max: 40 },
      {
        header: 'min metrics',
        value: (g) =>
          g.minMetrics.length === 0
            ? none
            : g.minMetrics.map((m) => `${m.metric}>=${String(round(m.min))}`).join(' '),
        max: 40,
      },
      { header: 'verdict', value: (g) => (g.requirePassedVerdict ? 'passed' : none) },
      { header: 'approvals', value: (g) => String(g.requiredApprovals), align: 'right' },
    ],
    layout,
  );
}

/**
 * The policy in force. `askedTaskId` is the task asked about: when the answer is the tenant's
 * default, the task has no policy of its own, which people should see.
 */
export function policyView(policy: PromotionPolicy, askedTaskId: string, layout: Layout): string {
  const scope =
    policy.taskId !== ''
      ? `task ${policy.taskId}`
      : askedTaskId === ''
        ? 'tenant default'
        : `tenant default (task ${askedTaskId} has no policy of its own)`;
  return [
    sheet([
      ['Policy', scope],
      ['Tenant', policy.tenantId],
      ['Updated', policy.updatedAt && isoTime(policy.updatedAt)],
      ['Updated by', policy.updatedBy || undefined],
      ['Etag', policy.etag || undefined],
    ]),
    guardsTable(policy.guards, layout),
  ].join('\n');
}
