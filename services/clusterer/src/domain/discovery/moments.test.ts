import { describe, expect, it } from 'vitest';
import { SyntheticSpace } from '../../testing/vectors.js';
import { cohesion, combine, momentsOf, overlap } from './moments.js';

const rows = (...vectors: number[][]) => Float32Array.from(vectors.flat());

describe('moments', () => {
  it('measures cohesion as the mean dot product of distinct members', () => {
    const table = rows([1, 0], [1, 0], [0, 1]);
    expect(cohesion(momentsOf(table, [0, 1], 2))).toBeCloseTo(1);
    expect(cohesion(momentsOf(table, [0, 2], 2))).toBeCloseTo(0);
    // Pairs (0,1) = 1, (0,2) = 0, (1,2) = 0.
    expect(cohesion(momentsOf(table, [0, 1, 2], 2))).toBeCloseTo(1 / 3);
    expect(cohesion(momentsOf(table, [0], 2))).toBeUndefined();
  });

  it('combines moments as the union of the members', () => {
    const table = rows([1, 0], [0.6, 0.8], [0, 1]);
    const union = combine(momentsOf(table, [0], 2), momentsOf(table, [1, 2], 2));
    const direct = momentsOf(table, [0, 1, 2], 2);
    expect(union.count).toBe(3);
    expect(Array.from(union.sum)).toEqual(Array.from(direct.sum));
    expect(union.squares).toBeCloseTo(direct.squares);
  });

  it('scores two samples of one distribution near 1, whatever their sizes, and others lower', () => {
    const space = new SyntheticSpace(64, 3);
    const [a, b] = [space.direction(), space.direction()];
    // Diffuse: members of a task are far less alike than 1.
    const sample = (center: Float32Array, n: number) =>
      Array.from({ length: n }, () => space.around(center, 0.2));
    const vectors = [...sample(a, 400), ...sample(a, 20), ...sample(b, 200)];
    const table = Float32Array.from(vectors.flatMap((v) => Array.from(v)));
    const index = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => from + i);
    const big = momentsOf(table, index(0, 400), 64);
    const small = momentsOf(table, index(400, 420), 64);
    const other = momentsOf(table, index(420, 620), 64);
    expect(cohesion(big)).toBeLessThan(0.5);
    expect(overlap(big, small)).toBeGreaterThan(0.9);
    expect(overlap(big, other)).toBeLessThan(0.3);
  });

  it('gives no overlap when a set has no cohesion to compare', () => {
    const table = rows([1, 0], [0, 1], [1, 0]);
    expect(overlap(momentsOf(table, [0], 2), momentsOf(table, [2], 2))).toBe(0);
    expect(overlap(momentsOf(table, [0, 1], 2), momentsOf(table, [0, 2], 2))).toBe(0);
  });
});
