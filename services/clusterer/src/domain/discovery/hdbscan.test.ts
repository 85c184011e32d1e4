import { describe, expect, it } from 'vitest';
import { hdbscan } from './hdbscan.js';

/** Sunflower discs: uniform density, reproducible exactly in Python for the reference labels. */
function discs(): Float32Array {
  const blobs = [
    { x: 0, y: 0, radius: 0.3, n: 30 },
    { x: 0.9, y: 0, radius: 0.3, n: 30 },
    { x: 6, y: 6, radius: 1.5, n: 40 },
    { x: -6, y: 4, radius: 0.8, n: 25 },
  ];
  const points: number[] = [];
  for (const { x, y, radius, n } of blobs) {
    for (let k = 0; k < n; k++) {
      const angle = k * 2.399963229728653;
      const r = radius * Math.sqrt((k + 0.5) / n);
      points.push(x + r * Math.cos(angle), y + r * Math.sin(angle));
    }
  }
  points.push(12, -9, -11, -8, 0, 12);
  return Float32Array.from(points);
}

const encode = (labels: Int32Array) =>
  Array.from(labels, (l) => (l < 0 ? '.' : String(l))).join('');
const runs = (spec: string) =>
  spec.replace(/(.)\1*/g, (run) => `${run[0] ?? ''}×${String(run.length)} `).trim();

describe('hdbscan', () => {
  // Reference labels: scikit-learn 1.9.1, HDBSCAN(min_cluster_size, min_samples).fit_predict on
  // the same float32 points (runs of one label shown as label×count).
  it.each([
    [10, 5, '2×30 3×30 1×40 0×25 .×3'],
    [5, 3, '2×30 3×30 1×40 0×25 .×3'],
    // The two touching discs are more stable as one cluster than as two.
    [20, 10, '1×60 2×40 0×25 .×3'],
    // Too small to be a cluster: the 25-point disc becomes noise.
    [40, 5, '0×60 1×40 .×28'],
  ])(
    'labels as scikit-learn does (min_cluster_size %i, min_samples %i)',
    (minClusterSize, minSamples, expected) => {
      const result = hdbscan(discs(), 2, { minClusterSize, minSamples });
      expect(runs(encode(result.labels))).toBe(expected);
      expect(result.clusterCount).toBe(new Set(result.labels).size - 1);
    },
  );

  it('finds no cluster where no split leaves two sides of the least size', () => {
    const result = hdbscan(discs(), 2, { minClusterSize: 70, minSamples: 5 });
    expect(result.clusterCount).toBe(0);
    expect(result.labels.every((label) => label === -1)).toBe(true);
  });

  it('labels fewer than two points as noise', () => {
    expect(
      hdbscan(new Float32Array([1, 2]), 2, { minClusterSize: 2, minSamples: 1 }).labels,
    ).toEqual(Int32Array.from([-1]));
    expect(hdbscan(new Float32Array(0), 2, { minClusterSize: 2, minSamples: 1 }).clusterCount).toBe(
      0,
    );
  });
});
