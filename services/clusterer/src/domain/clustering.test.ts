import { describe, expect, it } from 'vitest';
import {
  classify,
  isGrowthMilestone,
  place,
  type CallVector,
  type Cluster,
  type ClusteringPolicy,
} from './clustering.js';

const policy: ClusteringPolicy = { similarityThreshold: 0.5, minTaskSize: 5 };
const model = 'm';

/** mulberry32: a seeded generator, so the synthetic data is the same on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const unit = (values: number[]): number[] => {
  const norm = Math.sqrt(values.reduce((s, v) => s + v * v, 0));
  return values.map((v) => v / norm);
};

function synthetic(rand: () => number) {
  const gaussian = () => Math.sqrt(-2 * Math.log(rand() || 1e-9)) * Math.cos(2 * Math.PI * rand());
  const direction = () => unit(Array.from({ length: 64 }, gaussian));
  const around = (center: number[], spread: number): CallVector => ({
    values: unit(center.map((v) => v + spread * gaussian())),
    model,
  });
  return { direction, around };
}

/** Feeds calls one by one, as the consumer does, keeping each call's cluster. */
function run(calls: readonly (CallVector | undefined)[]) {
  let clusters: Cluster[] = [];
  let next = 0;
  const assigned: string[] = [];
  const announced: string[] = [];
  for (const call of calls) {
    const { cluster, created } = place(clusters, call, policy, () => `k${String(next++)}`);
    clusters = created
      ? [...clusters, cluster]
      : clusters.map((c) => (c.id === cluster.id ? cluster : c));
    assigned.push(cluster.id);
    if (cluster.pending !== undefined) {
      announced.push(`${cluster.pending}:${cluster.id}@${String(cluster.callCount)}`);
      clusters = clusters.map((c) => (c.id === cluster.id ? { ...c, pending: undefined } : c));
    }
  }
  return { clusters, assigned, announced };
}

describe('online clustering', () => {
  it('finds two clearly different tasks among noise, and no task in the noise', () => {
    const rand = random(42);
    const { direction, around } = synthetic(rand);
    const [a, b] = [direction(), direction()];
    const calls: CallVector[] = [];
    const truth: string[] = [];
    for (let i = 0; i < 40; i++) {
      const pick = rand();
      const label = pick < 0.45 ? 'a' : pick < 0.9 ? 'b' : 'noise';
      truth.push(label);
      calls.push(
        label === 'noise' ? { values: direction(), model } : around(label === 'a' ? a : b, 0.08),
      );
    }
    const { clusters, assigned, announced } = run(calls);

    const tasks = clusters.filter((c) => c.state === 'active');
    expect(tasks).toHaveLength(2);
    // Every call of a task went to one cluster, the two tasks to different ones.
    const clusterOf = (label: string) => new Set(assigned.filter((_, i) => truth[i] === label));
    expect(clusterOf('a').size).toBe(1);
    expect(clusterOf('b').size).toBe(1);
    expect([...clusterOf('a')][0]).not.toBe([...clusterOf('b')][0]);
    // Noise stayed in candidates.
    for (const id of clusterOf('noise')) {
      expect(clusters.find((c) => c.id === id)?.state).toBe('candidate');
    }
    // Each task was discovered once, at its fifth call, and updated when it doubled.
    expect(announced.filter((e) => e.startsWith('discovered'))).toHaveLength(2);
    expect(announced.filter((e) => e.startsWith('discovered')).every((e) => e.endsWith('@5'))).toBe(
      true,
    );
    const updates = announced.filter((e) => e.startsWith('updated'));
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.every((e) => /@(10|20|40)$/.test(e))).toBe(true);

    // Live calls classify into their task; noise into none.
    expect(classify(clusters, around(a, 0.08), policy)?.taskId).toBe([...clusterOf('a')][0]);
    expect(classify(clusters, around(b, 0.08), policy)?.confidence).toBeGreaterThan(0.7);
    expect(classify(clusters, { values: direction(), model }, policy)).toBeUndefined();
  });

  it('never compares vectors of different models', () => {
    const { clusters } = run([
      { values: [1, 0], model: 'x' },
      { values: [1, 0], model: 'y' },
    ]);
    expect(clusters).toHaveLength(2);
  });

  it('puts calls without content in the largest cluster of their signature', () => {
    const vector = { values: [1, 0], model };
    const { clusters, assigned } = run([vector, vector, { values: [0, 1], model }, undefined]);
    expect(assigned[3]).toBe(assigned[0]);
    expect(clusters.find((c) => c.id === assigned[0])?.callCount).toBe(3);
    expect(run([undefined, undefined]).clusters).toMatchObject([
      { callCount: 2, centroidSum: undefined, model: '' },
    ]);
  });

  it('classifies a call without content by signature, with the task share as confidence', () => {
    const task = (id: string, callCount: number): Cluster => ({
      id,
      state: 'active',
      callCount,
      centroidSum: [1, 0],
      model,
      revision: 1,
      pending: undefined,
    });
    expect(classify([task('t1', 30), task('t2', 10)], undefined, policy)).toEqual({
      taskId: 't1',
      confidence: 0.75,
    });
    expect(classify([], undefined, policy)).toBeUndefined();
  });

  it('announces growth when a task doubles', () => {
    expect([5, 9, 10, 15, 20, 40].map((n) => isGrowthMilestone(n, 5))).toEqual([
      false,
      false,
      true,
      false,
      true,
      true,
    ]);
  });
});
