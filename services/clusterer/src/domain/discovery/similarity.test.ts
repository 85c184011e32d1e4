import { describe, expect, it } from 'vitest';
import { defaultDiscoveryPolicy } from './discovery.js';
import { nearest, quantile, reach } from './similarity.js';

describe('similarity', () => {
  it('takes quantiles by nearest rank', () => {
    expect(quantile([5, 1, 4, 2, 3], 0)).toBe(1);
    expect(quantile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    expect(quantile([5, 1, 4, 2, 3], 1)).toBe(5);
    expect(quantile([], 0.5)).toBe(Infinity);
  });

  it('reaches below the low quantile by a share of its distance to the median', () => {
    const similarities = Array.from({ length: 100 }, (_, i) => i / 100);
    // 2% quantile 0.02, median 0.5: 0.02 − 0.5 · 0.48.
    expect(reach(similarities, defaultDiscoveryPolicy)).toBeCloseTo(-0.22);
    expect(reach([0.9, 0.9, 0.9], defaultDiscoveryPolicy)).toBeCloseTo(0.9);
  });

  it('finds the most similar centroid', () => {
    const vectors = Float32Array.from([0, 1, 1, 0]);
    const centroids = [Float64Array.from([1, 0]), Float64Array.from([0.6, 0.8])];
    expect(nearest(vectors, 0, centroids, 2)).toEqual({
      index: 1,
      similarity: expect.closeTo(0.8, 6) as number,
    });
    expect(nearest(vectors, 1, centroids, 2).index).toBe(0);
    expect(nearest(vectors, 1, [], 2)).toEqual({ index: -1, similarity: -Infinity });
  });
});
