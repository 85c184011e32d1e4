import { timestampDate, type Duration } from '@bufbuild/protobuf/wkt';
import type { SavingsReport, Task } from '@understudy/contracts';
import { table } from '../format/table.js';
import { duration, milliseconds, none, price, round, share } from '../format/values.js';
import type { Layout } from '../output.js';

/** "These 3 tasks carry 60% of calls and 75% of LLM spend (of $1,100.00/month); …". */
function headline(report: SavingsReport): string {
  const { currency } = report;
  const subject =
    report.taskCount === 1 ? 'This task carries' : `These ${String(report.taskCount)} tasks carry`;
  // No task measured the tenant's spend: a total of 0 would read as a fact.
  const of =
    report.tenantCostPerMonth > 0
      ? ` (of ${price(report.tenantCostPerMonth, currency)}/month)`
      : '';
  return (
    `${subject} ${share(report.shareOfCalls)} of calls and ${share(report.shareOfSpend)} of LLM ` +
    `spend${of}; projected saving ${price(report.savingsPerMonth, currency)}/month.`
  );
}

/** The headline, then the tasks largest saving first. */
export function savingsReportView(report: SavingsReport, layout: Layout): string {
  if (report.tasks.length === 0) return 'No tasks.\n';
  const money = (value: (task: Task) => number | undefined) => (task: Task) => {
    const amount = value(task);
    return amount === undefined ? none : price(amount, report.currency);
  };
  const rows = table(
    report.tasks,
    [
      { header: 'label', value: (t) => t.label || none, max: 40 },
      { header: 'agent', value: (t) => t.agentName || none, max: 20 },
      { header: 'calls/day', value: (t) => String(round(t.callsPerDay, 1)), align: 'right' },
      {
        header: 'share of calls',
        value: (t) => (t.profile ? share(t.profile.shareOfCalls) : none),
        align: 'right',
      },
      {
        header: 'share of spend',
        value: (t) => (t.profile ? share(t.profile.shareOfSpend) : none),
        align: 'right',
      },
      {
        header: 'suitability',
        value: (t) => (t.suitability ? String(round(t.suitability.overall, 2)) : none),
        align: 'right',
      },
      {
        header: 'current/mo',
        value: money((t) => t.savings?.currentCostPerMonth),
        align: 'right',
      },
      { header: 'slm/mo', value: money((t) => t.savings?.projectedCostPerMonth), align: 'right' },
      { header: 'saving/mo', value: money((t) => t.savings?.savingsPerMonth), align: 'right' },
      {
        header: 'latency p50',
        value: (t) => duration(t.savings?.currentLatencyP50),
        align: 'right',
      },
    ],
    layout,
  );
  return `${headline(report)}\n\n${rows}`;
}

const millisecondsOf = (value: Duration | undefined): number | null =>
  value === undefined ? null : milliseconds(value);

/**
 * The report as plain JSON for charts and spreadsheets: camel-case keys, numbers as numbers
 * (proto JSON would quote int64s and carry enum names), durations in milliseconds, times in
 * ISO 8601; null where the clusterer has not measured a figure yet.
 */
export function savingsReportDocument(report: SavingsReport) {
  return {
    tenantId: report.tenantId,
    currency: report.currency,
    computedAt: report.computedAt ? timestampDate(report.computedAt).toISOString() : null,
    totals: {
      tasks: report.taskCount,
      shareOfCalls: report.shareOfCalls,
      shareOfSpend: report.shareOfSpend,
      tenantCostPerMonth: report.tenantCostPerMonth,
      currentCostPerMonth: report.currentCostPerMonth,
      projectedCostPerMonth: report.projectedCostPerMonth,
      savingsPerMonth: report.savingsPerMonth,
    },
    tasks: report.tasks.map((task) => {
      const { suitability: s, savings, profile } = task;
      return {
        taskId: task.taskId,
        label: task.label,
        keywords: task.keywords,
        agentName: task.agentName,
        callsPerDay: task.callsPerDay,
        shareOfCalls: profile ? profile.shareOfCalls : null,
        shareOfSpend: profile ? profile.shareOfSpend : null,
        suitability: s
          ? {
              overall: s.overall,
              volume: s.volume,
              homogeneity: s.homogeneity,
              outputConsistency: s.outputConsistency,
              contentCoverage: s.contentCoverage,
              successRate: s.successRate,
            }
          : null,
        savings: savings
          ? {
              currentCostPerMonth: savings.currentCostPerMonth,
              projectedCostPerMonth: savings.projectedCostPerMonth,
              savingsPerMonth: savings.savingsPerMonth,
              latencyP50Ms: millisecondsOf(savings.currentLatencyP50),
              latencyP95Ms: millisecondsOf(savings.currentLatencyP95),
            }
          : null,
        reasons: s ? s.reasons : [],
      };
    }),
  };
}
