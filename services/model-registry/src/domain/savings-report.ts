import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { SavingsReportSchema, type SavingsReport, type Task } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

/** The most tasks a report lists, and so the most candidates it is chosen from. */
export const maxReportTasks = 1_000;

/** limit 0 means all (up to 1,000), more than 1,000 means 1,000 (GetSavingsReportRequest). */
export function reportSizeOf(limit: number): number {
  if (limit < 0) throw new UnderstudyError(ErrorCode.InvalidArgument, 'limit must not be negative');
  return limit === 0 ? maxReportTasks : Math.min(limit, maxReportTasks);
}

/** When the clusterer last measured the task; never for a task without a profile. */
function measuredAt(task: Task): number {
  const end = task.profile?.window?.endTime;
  return end === undefined ? -Infinity : timestampDate(end).getTime();
}

/** The most recently measured of `tasks`; the first of them on a tie. */
function newest(tasks: readonly Task[]): Task | undefined {
  return tasks.reduce<Task | undefined>(
    (best, task) => (best === undefined || measuredAt(task) > measuredAt(best) ? task : best),
    undefined,
  );
}

const sum = (tasks: readonly Task[], value: (task: Task) => number | undefined): number =>
  tasks.reduce((total, task) => total + (value(task) ?? 0), 0);

/**
 * A tenant's savings report: the first `size` of `candidates` (its active tasks that pass the
 * filter, largest saving first), with their totals.
 *
 * Amounts add up only in one currency. The report's is that of the most recently measured task
 * with a savings estimate: the clusterer prices every task with one price table, so tasks in
 * another currency were measured under an older table and have not been re-measured yet. They
 * are left out until they are, rather than failing the report; tasks without an estimate carry
 * no amount and stay in. The tenant's total spend is that same task's measurement, the newest.
 *
 * The tasks are listed without their centroids: those are for classifying calls, not for
 * reading, and a thousand of them could outgrow a gRPC message.
 */
export function savingsReport(
  tenantId: string,
  candidates: readonly Task[],
  size: number,
  computedAt: Date,
): SavingsReport {
  const reference =
    newest(candidates.filter((task) => task.savings !== undefined)) ?? newest(candidates);
  const currency = reference?.savings?.currency ?? '';
  const tasks = candidates
    .filter((task) => task.savings === undefined || task.savings.currency === currency)
    .slice(0, size)
    .map((task) => ({ ...task, centroid: undefined }));
  return create(SavingsReportSchema, {
    tenantId,
    currency,
    tenantCostPerMonth: reference?.profile?.tenantCostPerMonth ?? 0,
    taskCount: tasks.length,
    shareOfCalls: sum(tasks, (task) => task.profile?.shareOfCalls),
    shareOfSpend: sum(tasks, (task) => task.profile?.shareOfSpend),
    currentCostPerMonth: sum(tasks, (task) => task.savings?.currentCostPerMonth),
    projectedCostPerMonth: sum(tasks, (task) => task.savings?.projectedCostPerMonth),
    savingsPerMonth: sum(tasks, (task) => task.savings?.savingsPerMonth),
    tasks,
    computedAt: timestampFromDate(computedAt),
  });
}
