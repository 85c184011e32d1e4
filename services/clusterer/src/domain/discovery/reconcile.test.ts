import { describe, expect, it } from 'vitest';
import {
  defaultReconcileShares,
  reconcile,
  type NewCluster,
  type PreviousTask,
} from './reconcile.js';

const day = 86_400_000;
const now = 10 * day;
const policy = { nowMs: now, retireAfterMs: 2 * day, ...defaultReconcileShares };
const calls = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${prefix}${String(from + i)}`);
const task = (id: string, members: string[], lastCallMs = now - 1000): PreviousTask => ({
  id,
  members,
  lastCallMs,
});
const cluster = (members: string[], lastCallMs = now - 1000): NewCluster => ({
  members,
  lastCallMs,
});

function ids() {
  let next = 0;
  return () => `new-${String(++next)}`;
}

describe('reconcile', () => {
  it('keeps the id of a task that grew, and discovers a cluster of new calls', () => {
    const result = reconcile(
      [task('a', calls('a', 0, 100))],
      [cluster([...calls('a', 0, 100), ...calls('x', 0, 50)]), cluster(calls('y', 0, 30))],
      policy,
      ids(),
    );
    expect(result.ids).toEqual(['a', 'new-1']);
    expect(result.changes).toEqual([
      { kind: 'continued', id: 'a', cluster: 0 },
      { kind: 'discovered', id: 'new-1', cluster: 1 },
    ]);
  });

  it('merges tasks into the cluster that holds most of their calls, keeping the larger id', () => {
    const result = reconcile(
      [task('a', calls('a', 0, 60)), task('b', calls('b', 0, 40))],
      [cluster([...calls('a', 0, 60), ...calls('b', 0, 40)])],
      policy,
      ids(),
    );
    expect(result.ids).toEqual(['a']);
    expect(result.changes).toEqual([{ kind: 'merged', id: 'a', cluster: 0, sources: ['a', 'b'] }]);
  });

  it('splits a task: the larger part keeps its id, a sizeable other part gets a new one', () => {
    const result = reconcile(
      [task('a', calls('a', 0, 100))],
      [cluster(calls('a', 0, 60)), cluster(calls('a', 60, 95)), cluster(calls('a', 95, 100))],
      policy,
      ids(),
    );
    expect(result.ids).toEqual(['a', 'new-1', 'new-2']);
    expect(result.changes).toEqual([
      // 5% of the task is no split of it: a discovery.
      { kind: 'discovered', id: 'new-2', cluster: 2 },
      {
        kind: 'split',
        source: 'a',
        parts: [
          { id: 'a', cluster: 0 },
          { id: 'new-1', cluster: 1 },
        ],
      },
    ]);
  });

  it('retires a task that split evenly three ways through the split, not as dissolved', () => {
    const result = reconcile(
      [task('a', calls('a', 0, 90))],
      [cluster(calls('a', 0, 25)), cluster(calls('a', 25, 50)), cluster(calls('a', 50, 75))],
      policy,
      ids(),
    );
    expect(result.ids).toEqual(['new-1', 'new-2', 'new-3']);
    expect(result.changes).toEqual([
      {
        kind: 'split',
        source: 'a',
        parts: [
          { id: 'new-1', cluster: 0 },
          { id: 'new-2', cluster: 1 },
          { id: 'new-3', cluster: 2 },
        ],
      },
    ]);
  });

  it('retires idle tasks and never announces a cluster that is idle already', () => {
    const old = now - 3 * day;
    const result = reconcile(
      [task('quiet', calls('q', 0, 50), old), task('gone', [], old)],
      [cluster(calls('q', 0, 50), old), cluster(calls('z', 0, 20), old)],
      policy,
      ids(),
    );
    expect(result.ids).toEqual([undefined, undefined]);
    expect(result.changes).toEqual([
      { kind: 'retired', id: 'quiet', reason: 'idle' },
      { kind: 'retired', id: 'gone', reason: 'idle' },
    ]);
  });

  it('retires a live task whose calls scattered into noise', () => {
    const result = reconcile(
      [task('a', calls('a', 0, 100))],
      [cluster(calls('a', 0, 10))],
      policy,
      ids(),
    );
    expect(result.changes).toEqual([
      { kind: 'discovered', id: 'new-1', cluster: 0 },
      { kind: 'retired', id: 'a', reason: 'dissolved' },
    ]);
  });
});
