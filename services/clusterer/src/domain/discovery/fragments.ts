import type { CallTable, DiscoveryPolicy } from './discovery.js';
import { hdbscan } from './hdbscan.js';
import { combine, momentsOf, overlap, type Moments } from './moments.js';
import { nearest, reach } from './similarity.js';
import { dotRow, pickRows, unit } from './vectors.js';

/** A piece of a task: calls that one signature group (or a density cluster in it) holds. */
export interface Fragment {
  readonly structure: string;
  readonly members: number[];
}

/**
 * HDBSCAN over `calls` (a sample of at most `sampleSize` of them, evenly spread); unsampled
 * calls join the nearest cluster found if they are as close to it as its sampled members are.
 */
export function densityClusters(
  table: CallTable,
  calls: readonly number[],
  policy: DiscoveryPolicy,
): { clusters: number[][]; noise: number[] } {
  const { dimension, vectors } = table;
  const stride = Math.max(1, calls.length / policy.sampleSize);
  const sample: number[] = [];
  const sampled = new Set<number>();
  for (let position = 0; position < calls.length; position += stride) {
    const call = calls[Math.floor(position)] as number;
    sample.push(call);
    sampled.add(call);
  }
  const { labels, clusterCount } = hdbscan(pickRows(vectors, sample, dimension), dimension, {
    minClusterSize: Math.max(
      policy.minClusterSize,
      Math.ceil(policy.minClusterShare * sample.length),
    ),
    minSamples: policy.minSamples,
  });
  const clusters: number[][] = Array.from({ length: clusterCount }, () => []);
  const noise: number[] = [];
  sample.forEach((call, s) => {
    const label = labels[s] as number;
    if (label >= 0) clusters[label]?.push(call);
    else noise.push(call);
  });
  if (sampled.size === calls.length || clusterCount === 0) return { clusters, noise };
  const centroids = clusters.map((members) => unit(momentsOf(vectors, members, dimension).sum));
  const thresholds = clusters.map((members, c) =>
    reach(
      members.map((call) => dotRow(vectors, call, centroids[c] as Float64Array, 0, dimension)),
      policy,
    ),
  );
  for (const call of calls) {
    if (sampled.has(call)) continue;
    const best = nearest(vectors, call, centroids, dimension);
    if (best.similarity >= (thresholds[best.index] ?? Infinity)) clusters[best.index]?.push(call);
    else noise.push(call);
  }
  return { clusters, noise };
}

/**
 * Density clusters among pooled calls. HDBSCAN never returns its root, so a pool holding one
 * task and a few strays would come back as noise: the pool is clustered with a contrast set (an
 * even sample of calls already in tasks, any structure), against which its task is a cluster of
 * its own. Only the pool's members of each cluster are returned.
 */
export function poolClusters(
  table: CallTable,
  pool: readonly number[],
  assignment: Int32Array,
  policy: DiscoveryPolicy,
): number[][] {
  const assigned: number[] = [];
  assignment.forEach((task, call) => {
    if (task >= 0 && table.hasVector[call] === 1) assigned.push(call);
  });
  const contrastSize = Math.min(assigned.length, Math.max(pool.length, policy.minClusterSize * 4));
  const stride = assigned.length / Math.max(1, contrastSize);
  const contrast = Array.from(
    { length: contrastSize },
    (_, i) => assigned[Math.floor(i * stride)] as number,
  );
  const inPool = new Set(pool);
  return densityClusters(table, [...pool, ...contrast], policy).clusters.map((cluster) =>
    cluster.filter((call) => inPool.has(call)),
  );
}

/**
 * Greedy average-linkage agglomeration of the fragments of each structure: the pair with the
 * highest `overlap` merges (its moments add up) until no pair reaches `threshold`.
 */
export function mergeFragments(
  fragments: readonly Fragment[],
  table: CallTable,
  threshold: number,
): Fragment[] {
  const byStructure = new Map<string, Fragment[]>();
  for (const fragment of fragments) {
    const list = byStructure.get(fragment.structure) ?? [];
    list.push(fragment);
    byStructure.set(fragment.structure, list);
  }
  const merged: Fragment[] = [];
  for (const [structure, list] of byStructure) {
    const moments: Moments[] = list.map((f) =>
      momentsOf(table.vectors, f.members, table.dimension),
    );
    const members = list.map((f) => [...f.members]);
    const alive = list.map(() => true);
    const count = list.length;
    const scores = new Float64Array(count * count);
    const refresh = (i: number) => {
      for (let j = 0; j < count; j++) {
        const score =
          i !== j && alive[j] ? overlap(moments[i] as Moments, moments[j] as Moments) : -Infinity;
        scores[i * count + j] = score;
        scores[j * count + i] = score;
      }
    };
    for (let i = 0; i < count; i++) refresh(i);
    for (;;) {
      let best = -Infinity;
      let pair: [number, number] = [-1, -1];
      for (let i = 0; i < count; i++) {
        if (!alive[i]) continue;
        for (let j = i + 1; j < count; j++) {
          const score = scores[i * count + j] as number;
          if (alive[j] && score > best) {
            best = score;
            pair = [i, j];
          }
        }
      }
      if (best < threshold) break;
      const [keep, drop] = pair;
      moments[keep] = combine(moments[keep] as Moments, moments[drop] as Moments);
      // A loop, not a spread: fragments of a million calls overflow the argument stack.
      for (const call of members[drop] as number[]) (members[keep] as number[]).push(call);
      alive[drop] = false;
      refresh(keep);
    }
    members.forEach((m, i) => {
      if (alive[i]) merged.push({ structure, members: m });
    });
  }
  return merged;
}
