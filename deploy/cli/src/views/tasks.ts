import { TaskStateSchema, type Task } from '@understudy/contracts';
import { sheet, table } from '../format/table.js';
import { duration, enumLabel, isoTime, list, money, none, round } from '../format/values.js';
import type { Layout } from '../output.js';

function savings(task: Task): string {
  return task.savings === undefined
    ? none
    : money(task.savings.savingsPerMonth, task.savings.currency);
}

function suitability(task: Task): string {
  return task.suitability === undefined ? none : String(round(task.suitability.overall, 2));
}

export function taskTable(tasks: readonly Task[], layout: Layout): string {
  if (tasks.length === 0) return 'No tasks.\n';
  return table(
    tasks,
    [
      { header: 'task', value: (t) => t.taskId },
      { header: 'label', value: (t) => t.label || none, max: 40 },
      { header: 'agent', value: (t) => t.agentName || none, max: 20 },
      { header: 'state', value: (t) => enumLabel(TaskStateSchema, t.state) },
      { header: 'calls', value: (t) => String(t.callCount), align: 'right' },
      { header: 'calls/day', value: (t) => String(round(t.callsPerDay, 1)), align: 'right' },
      { header: 'suitability', value: suitability, align: 'right' },
      { header: 'savings/month', value: savings, align: 'right' },
      { header: 'last seen', value: (t) => isoTime(t.lastSeenAt) },
    ],
    layout,
  );
}

export function taskSheet(task: Task): string {
  const s = task.suitability;
  const cost = task.savings;
  return sheet([
    ['Task', task.taskId],
    ['Label', task.label],
    ['Agent', task.agentName],
    ['State', enumLabel(TaskStateSchema, task.state)],
    ['Revision', String(task.revision)],
    ['Calls', String(task.callCount)],
    ['Calls per day', String(round(task.callsPerDay, 1))],
    ['Suitability', s === undefined ? none : String(round(s.overall, 2))],
    [
      '  components',
      s &&
        `volume ${String(round(s.volume, 2))}, homogeneity ${String(round(s.homogeneity, 2))}, ` +
          `output consistency ${String(round(s.outputConsistency, 2))}, ` +
          `content coverage ${String(round(s.contentCoverage, 2))}, success rate ${String(round(s.successRate, 2))}`,
    ],
    ['  reasons', s && list(s.reasons)],
    ['Savings per month', cost && money(cost.savingsPerMonth, cost.currency)],
    ['  LLM cost', cost && money(cost.currentCostPerMonth, cost.currency)],
    ['  projected cost', cost && money(cost.projectedCostPerMonth, cost.currency)],
    [
      '  LLM latency',
      cost && `p50 ${duration(cost.currentLatencyP50)}, p95 ${duration(cost.currentLatencyP95)}`,
    ],
    ['Keywords', list(task.keywords)],
    ['Signature', task.signature],
    ['First seen', isoTime(task.firstSeenAt)],
    ['Last seen', isoTime(task.lastSeenAt)],
    ['Successors', task.successorTaskIds.length === 0 ? undefined : list(task.successorTaskIds)],
    ['Representative calls', list(task.representativeCallIds)],
  ]);
}
