import type { DiscoveryPolicy } from './discovery.js';
import { dotRow } from './vectors.js';

/** The centroid most similar to call `call`, and the similarity. */
export function nearest(
  vectors: Float32Array,
  call: number,
  centroids: readonly Float64Array[],
  dimension: number,
): { index: number; similarity: number } {
  let index = -1;
  let similarity = -Infinity;
  centroids.forEach((centroid, c) => {
    const value = dotRow(vectors, call, centroid, 0, dimension);
    if (value > similarity) {
      similarity = value;
      index = c;
    }
  });
  return { index, similarity };
}

/** The least similarity to its centroid a cluster accepts, from its members' (see the policy). */
export function reach(similarities: readonly number[], policy: DiscoveryPolicy): number {
  const low = quantile(similarities, policy.acceptQuantile);
  return low - policy.acceptSlack * Math.max(0, quantile(similarities, 0.5) - low);
}

/** The q-quantile of `values` (nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Infinity;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * sorted.length)))] as number;
}
