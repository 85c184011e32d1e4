import { CallStatusCode, type LlmCall } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { chatCall } from '../testing/calls.js';
import { planDataset, type TaskMembers } from './plan.js';

const task = (memberCallIds: string[], revision = 1n): TaskMembers => ({
  tenantId: 'acme',
  taskId: 'task-1',
  revision,
  memberCallIds,
});
const byId = (calls: LlmCall[]) => new Map(calls.map((call) => [call.callId, call]));
const policy = { minCalls: 3, evalFraction: 0.34 };
const prompts: Record<string, string> = { c1: 'alpha', c2: 'bravo', c3: 'charlie', c4: 'delta' };
/** Calls whose prompts differ in words, so that none of them are near-duplicates. */
const call = (callId: string, status?: CallStatusCode) =>
  chatCall({
    callId,
    user: `tell me about ${prompts[callId] ?? callId}`,
    ...(status && { status }),
  });

describe('planDataset', () => {
  it('waits until the task has min_calls usable calls', () => {
    const members = ['c1', 'c2', 'c3', 'c4'];
    const usable = [call('c1'), call('c2')];
    const failed = call('c3', CallStatusCode.ERROR);
    expect(planDataset(task(members), byId([...usable, failed]), policy)).toBeUndefined();

    const plan = planDataset(task(members), byId([...usable, failed, call('c4')]), policy);
    expect(plan).toMatchObject({
      sourceCallCount: 4,
      excluded: { error: 1, not_captured: 0, no_content: 0 },
    });
    expect((plan?.train.length ?? 0) + (plan?.eval.length ?? 0)).toBe(3);
    expect(plan?.eval).toHaveLength(1);
  });

  it('keeps near-duplicates together even when that leaves the eval side empty', () => {
    // Prompts that differ only in a number: one group, which cannot fit a one-row eval side.
    const calls = ['a', 'b', 'c'].map((callId, i) =>
      chatCall({ callId, user: `invoice ${String(i)}` }),
    );
    const plan = planDataset(task(['a', 'b', 'c']), byId(calls), policy);
    expect(plan?.train.map(({ callId }) => callId)).toEqual(['a', 'b', 'c']);
    expect(plan?.eval).toEqual([]);
  });

  it('counts members not captured yet and derives the window from the usable calls', () => {
    const plan = planDataset(
      task(['c1', 'c2', 'c3', 'missing']),
      byId([
        chatCall({ callId: 'c1', startTime: new Date('2026-01-02T00:00:00Z') }),
        chatCall({ callId: 'c2', startTime: new Date('2026-01-01T00:00:00Z') }),
        chatCall({ callId: 'c3', startTime: new Date('2026-01-03T00:00:00Z') }),
      ]),
      policy,
    );
    expect(plan?.excluded.not_captured).toBe(1);
    expect(plan?.window).toEqual({
      start: new Date('2026-01-01T00:00:00Z'),
      end: new Date('2026-01-03T00:00:00.001Z'),
    });
  });

  it('counts the teacher models of train and eval examples, most examples first', () => {
    const models: Record<string, { requestModel?: string; responseModel?: string }> = {
      c1: { requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06' },
      c2: { requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06' },
      // No response model: the model asked for answered.
      c3: { requestModel: 'claude-sonnet-4' },
      c4: {},
      // Failed: no example, so not a teacher.
      c5: { requestModel: 'o3', responseModel: 'o3-2025-04-16' },
    };
    const calls = Object.entries(models).map(([callId, named]) =>
      chatCall({
        callId,
        user: `tell me about ${prompts[callId] ?? callId}`,
        ...named,
        ...(callId === 'c5' && { status: CallStatusCode.ERROR }),
      }),
    );
    const plan = planDataset(task(Object.keys(models)), byId(calls), policy);
    expect(plan?.eval.length).toBeGreaterThan(0);
    expect(plan?.teacherModels).toEqual([
      { model: 'gpt-4o-2024-08-06', exampleCount: 2 },
      { model: 'claude-sonnet-4', exampleCount: 1 },
    ]);
  });

  it('names a dataset by its member set, not by the order or the revision it came in', () => {
    const calls = byId(['a', 'b', 'c'].map((callId) => chatCall({ callId })));
    const first = planDataset(task(['a', 'b', 'c']), calls, policy);
    const again = planDataset(task(['c', 'a', 'b', 'a'], 7n), calls, policy);
    expect(again?.datasetId).toBe(first?.datasetId);
    expect(first?.datasetId).toMatch(/^ds-[0-9a-f]{32}$/);
    const grown = planDataset(
      task(['a', 'b', 'c', 'd']),
      byId(['a', 'b', 'c', 'd'].map((callId) => chatCall({ callId }))),
      policy,
    );
    expect(grown?.datasetId).not.toBe(first?.datasetId);
    const otherFraction = planDataset(task(['a', 'b', 'c']), calls, {
      ...policy,
      evalFraction: 0.5,
    });
    expect(otherFraction?.datasetId).not.toBe(first?.datasetId);
  });
});
