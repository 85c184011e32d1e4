import { describe, expect, it } from 'vitest';
import { agreement } from './metrics.js';

// Expected values are scikit-learn 1.9.1's adjusted_rand_score, normalized_mutual_info_score and
// homogeneity_completeness_v_measure on the same labels.
describe('agreement', () => {
  it.each([
    ['an extra split', [0, 0, 1, 1], [0, 0, 1, 2], 0.5714285714, 0.8, 1, 0.6666666667],
    ['an extra merge', [0, 0, 1, 2], [0, 0, 1, 1], 0.5714285714, 0.8, 0.6666666667, 1],
    ['crossed labels', [0, 0, 1, 1], [0, 1, 0, 1], -0.5, 0, 0, 0],
    ['one class, all singletons', [0, 0, 0, 0], [0, 1, 2, 3], 0, 0, 1, 0],
    [
      'three of nine moved',
      [0, 0, 0, 1, 1, 1, 2, 2, 2],
      [0, 0, 1, 1, 1, 2, 2, 2, 2],
      0.3571428571,
      0.5895098274,
      0.5793801643,
      0.6,
    ],
    [
      'noise as a cluster',
      [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3],
      [1, 1, 0, 0, 0, 2, 2, -1, -1, 2, 3, 3],
      0.3497536946,
      0.7056118683,
      0.7656389734,
      0.654312876,
    ],
  ])('matches scikit-learn on %s', (_, truth, predicted, ari, nmi, homogeneity, completeness) => {
    const scores = agreement(truth, predicted);
    expect(scores.ari).toBeCloseTo(ari, 9);
    expect(scores.nmi).toBeCloseTo(nmi, 9);
    expect(scores.vMeasure).toBeCloseTo(nmi, 9);
    expect(scores.homogeneity).toBeCloseTo(homogeneity, 9);
    expect(scores.completeness).toBeCloseTo(completeness, 9);
  });

  it('scores identical partitions 1 whatever the label names', () => {
    expect(agreement(['a', 'a', 'b'], [7, 7, 3])).toEqual({
      ari: 1,
      nmi: 1,
      homogeneity: 1,
      completeness: 1,
      vMeasure: 1,
    });
    expect(agreement(['a', 'a'], [1, 1]).ari).toBe(1);
  });

  it('refuses label arrays of different lengths', () => {
    expect(() => agreement([1, 2], [1])).toThrow(RangeError);
  });
});
