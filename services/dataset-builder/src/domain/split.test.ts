import { describe, expect, it } from 'vitest';
import { nearDuplicateKey, splitExamples } from './split.js';

/** Distinct prompts: words, not numbers, tell them apart (numbers are evened out). */
const word = (i: number) => i.toString(26).replace(/\d/g, (d) => 'qrstuvwxyz'.charAt(Number(d)));
const items = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    callId: `c-${String(i).padStart(3, '0')}`,
    groupKey: nearDuplicateKey(`prompt about ${word(i)}`),
  }));

describe('splitExamples', () => {
  it('is deterministic for a seed, whatever the input order', () => {
    const all = items(40);
    const once = splitExamples(all, 'task-1', 0.25);
    const again = splitExamples([...all].reverse(), 'task-1', 0.25);
    expect(again).toEqual(once);
    const other = splitExamples(all, 'task-2', 0.25);
    expect(other.eval).not.toEqual(once.eval);
  });

  it('keeps the splits disjoint, covers every item and honours the fraction', () => {
    const all = items(100);
    expect(new Set(all.map(({ groupKey }) => groupKey)).size).toBe(100);
    for (const fraction of [0.1, 0.2, 0.5]) {
      const { train, eval: evaluation } = splitExamples(all, 'task', fraction);
      expect(evaluation).toHaveLength(Math.round(100 * fraction));
      expect(train).toHaveLength(100 - evaluation.length);
      const evalIds = new Set(evaluation.map(({ callId }) => callId));
      expect(train.some(({ callId }) => evalIds.has(callId))).toBe(false);
      expect(new Set([...train, ...evaluation].map(({ callId }) => callId)).size).toBe(100);
    }
  });

  it('keeps near-duplicate prompts on the same side', () => {
    const all = [
      ...Array.from({ length: 10 }, (_, i) => ({
        callId: `dup-${String(i)}`,
        // Differ only in digits, case and spacing.
        groupKey: nearDuplicateKey(`Extract  invoice ${String(1000 + i)} FIELDS`),
      })),
      ...items(30),
    ];
    expect(new Set(all.slice(0, 10).map(({ groupKey }) => groupKey)).size).toBe(1);
    for (const seed of ['a', 'b', 'c', 'd', 'e']) {
      const { train, eval: evaluation } = splitExamples(all, seed, 0.3);
      const side = (split: readonly { callId: string }[]) =>
        split.filter(({ callId }) => callId.startsWith('dup-')).length;
      expect([0, 10]).toContain(side(train));
      expect(side(train) + side(evaluation)).toBe(10);
    }
  });

  it('holds out at least one item and never empties the train side', () => {
    expect(splitExamples(items(1), 't', 0.1)).toMatchObject({ eval: [] });
    expect(splitExamples(items(3), 't', 0.01).eval).toHaveLength(1);
    expect(splitExamples(items(2), 't', 0.9).train).toHaveLength(1);
  });
});

describe('nearDuplicateKey', () => {
  it('evens out case, whitespace and numbers only', () => {
    expect(nearDuplicateKey('Order 12 shipped\n today')).toBe(
      nearDuplicateKey('order 987 SHIPPED today'),
    );
    expect(nearDuplicateKey('Order shipped')).not.toBe(nearDuplicateKey('Order cancelled'));
  });
});
