import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { TaskSchema, TaskState, type Task } from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { reportSizeOf, savingsReport } from './savings-report.js';

const now = new Date('2026-03-02T00:00:00Z');
const day = (date: number) => timestampFromDate(new Date(Date.UTC(2026, 2, date)));

/**
 * A task measured over the window ending on `measured` (a day of March), or never; `currency`
 * null for one without a savings estimate.
 */
function task(
  taskId: string,
  figures: {
    readonly measured?: number;
    readonly calls?: number;
    readonly spend?: number;
    readonly tenantCost?: number;
    readonly cost?: number;
    readonly projected?: number;
    readonly currency?: string | null;
  },
): Task {
  const { measured, calls = 0, spend = 0, tenantCost = 0 } = figures;
  const { cost = 0, projected = 0, currency = 'USD' } = figures;
  return create(TaskSchema, {
    taskId,
    tenantId: 'acme',
    state: TaskState.ACTIVE,
    centroid: { values: [0.6, 0.8], dimension: 2, model: 'm' },
    ...(measured !== undefined && {
      profile: {
        window: { startTime: day(measured - 1), endTime: day(measured) },
        shareOfCalls: calls,
        shareOfSpend: spend,
        tenantCostPerMonth: tenantCost,
      },
    }),
    ...(currency !== null && {
      savings: {
        currency,
        currentCostPerMonth: cost,
        projectedCostPerMonth: projected,
        savingsPerMonth: cost - projected,
      },
    }),
  });
}

const ids = (tasks: readonly Task[]) => tasks.map((t) => t.taskId);

describe('savingsReport', () => {
  it('lists the first tasks in the order given, totals them, and leaves their centroids out', () => {
    const candidates = [
      task('a', {
        measured: 2,
        calls: 0.4,
        spend: 0.5,
        tenantCost: 1000,
        cost: 500,
        projected: 25,
      }),
      task('b', {
        measured: 2,
        calls: 0.2,
        spend: 0.25,
        tenantCost: 1000,
        cost: 250,
        projected: 10,
      }),
      task('c', { measured: 2, calls: 0.1, spend: 0.05, tenantCost: 1000, cost: 50, projected: 5 }),
    ];
    const report = savingsReport('acme', candidates, 2, now);
    expect(report).toMatchObject({
      tenantId: 'acme',
      currency: 'USD',
      tenantCostPerMonth: 1000,
      taskCount: 2,
      computedAt: timestampFromDate(now),
    });
    expect(ids(report.tasks)).toEqual(['a', 'b']);
    expect(report.shareOfCalls).toBeCloseTo(0.6, 12);
    expect(report.shareOfSpend).toBeCloseTo(0.75, 12);
    expect(report.currentCostPerMonth).toBeCloseTo(750, 9);
    expect(report.projectedCostPerMonth).toBeCloseTo(35, 9);
    expect(report.savingsPerMonth).toBeCloseTo(715, 9);
    expect(report.tasks.map((t) => t.centroid)).toEqual([undefined, undefined]);
    const [first] = candidates;
    expect(first?.centroid?.values).toEqual([0.6, 0.8]);
    expect(report.tasks[0]).toEqual({ ...first, centroid: undefined });

    expect(ids(savingsReport('acme', candidates, 1_000, now).tasks)).toEqual(['a', 'b', 'c']);
  });

  it("takes the tenant's spend from the most recently measured task", () => {
    const report = savingsReport(
      'acme',
      [
        task('older', { measured: 1, tenantCost: 900, cost: 90 }),
        task('never', { cost: 80 }),
        task('newest', { measured: 3, tenantCost: 1200, cost: 70 }),
        task('newer', { measured: 2, tenantCost: 1100, cost: 60 }),
      ],
      10,
      now,
    );
    expect(report.tenantCostPerMonth).toBe(1200);
    expect(ids(report.tasks)).toEqual(['older', 'never', 'newest', 'newer']);
  });

  it('reports in the currency of the newest measurement, leaving tasks in another out', () => {
    const report = savingsReport(
      'acme',
      [
        task('old-usd', { measured: 1, cost: 900, tenantCost: 5000 }),
        task('eur', { measured: 2, cost: 800, tenantCost: 4600, currency: 'EUR' }),
        task('unpriced', { measured: 3, calls: 0.3, currency: null }),
        task('eur-2', { measured: 2, cost: 100, currency: 'EUR' }),
      ],
      2,
      now,
    );
    expect(report).toMatchObject({
      currency: 'EUR',
      tenantCostPerMonth: 4600,
      taskCount: 2,
      currentCostPerMonth: 800,
      shareOfCalls: 0.3,
    });
    // Left out, the USD task takes no place from the limit.
    expect(ids(report.tasks)).toEqual(['eur', 'unpriced']);
  });

  it('reports nothing, in no currency, for no tasks', () => {
    expect(savingsReport('acme', [], 10, now)).toMatchObject({
      tenantId: 'acme',
      currency: '',
      tenantCostPerMonth: 0,
      taskCount: 0,
      shareOfCalls: 0,
      savingsPerMonth: 0,
      tasks: [],
    });
  });
});

describe('reportSizeOf', () => {
  it('reads 0 as all, caps at 1,000 and refuses a negative limit', () => {
    expect(reportSizeOf(0)).toBe(1_000);
    expect(reportSizeOf(7)).toBe(7);
    expect(reportSizeOf(5_000)).toBe(1_000);
    expect(() => reportSizeOf(-1)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
  });
});
