/**
 * Agreement between a clustering and ground-truth labels, as scikit-learn defines it
 * (`adjusted_rand_score`, `normalized_mutual_info_score` with the arithmetic mean,
 * `homogeneity_completeness_v_measure` with β = 1). Labels are compared as values: −1 (noise,
 * unassigned) counts as one more cluster, as scikit-learn counts it. With these definitions the
 * V-measure equals the NMI; both are reported because both are asked for.
 */

export interface Agreement {
  readonly ari: number;
  readonly nmi: number;
  readonly homogeneity: number;
  readonly completeness: number;
  readonly vMeasure: number;
}

interface Cell {
  readonly truth: number;
  readonly predicted: number;
  count: number;
}

interface Contingency {
  readonly n: number;
  readonly cells: readonly Cell[];
  readonly truthSizes: readonly number[];
  readonly predictedSizes: readonly number[];
}

export function agreement(truth: readonly unknown[], predicted: readonly unknown[]): Agreement {
  const table = contingency(truth, predicted);
  return { ari: adjustedRand(table), ...informationScores(table) };
}

function contingency(truth: readonly unknown[], predicted: readonly unknown[]): Contingency {
  if (truth.length !== predicted.length) {
    throw new RangeError(`label arrays differ in length: ${truth.length} and ${predicted.length}`);
  }
  const truthIds = new Map<unknown, number>();
  const predictedIds = new Map<unknown, number>();
  const cells = new Map<string, Cell>();
  const truthSizes: number[] = [];
  const predictedSizes: number[] = [];
  const idOf = (ids: Map<unknown, number>, label: unknown) => {
    const known = ids.get(label);
    if (known !== undefined) return known;
    ids.set(label, ids.size);
    return ids.size - 1;
  };
  truth.forEach((label, i) => {
    const t = idOf(truthIds, label);
    const p = idOf(predictedIds, predicted[i]);
    truthSizes[t] = (truthSizes[t] ?? 0) + 1;
    predictedSizes[p] = (predictedSizes[p] ?? 0) + 1;
    const key = `${String(t)}:${String(p)}`;
    const cell = cells.get(key);
    if (cell === undefined) cells.set(key, { truth: t, predicted: p, count: 1 });
    else cell.count += 1;
  });
  return { n: truth.length, cells: [...cells.values()], truthSizes, predictedSizes };
}

const pairs = (count: number) => (count * (count - 1)) / 2;

function entropy(sizes: readonly number[], n: number): number {
  return -sizes.reduce((sum, size) => sum + (size / n) * Math.log(size / n), 0);
}

function adjustedRand({ n, cells, truthSizes, predictedSizes }: Contingency): number {
  const index = cells.reduce((sum, cell) => sum + pairs(cell.count), 0);
  const truthPairs = truthSizes.reduce((sum, size) => sum + pairs(size), 0);
  const predictedPairs = predictedSizes.reduce((sum, size) => sum + pairs(size), 0);
  const expected = n < 2 ? 0 : (truthPairs * predictedPairs) / pairs(n);
  const maximum = (truthPairs + predictedPairs) / 2;
  // Partitions with nothing to disagree on (one cluster each, or all singletons) agree fully.
  return maximum === expected ? 1 : (index - expected) / (maximum - expected);
}

function informationScores({
  n,
  cells,
  truthSizes,
  predictedSizes,
}: Contingency): Omit<Agreement, 'ari'> {
  const truthEntropy = entropy(truthSizes, n);
  const predictedEntropy = entropy(predictedSizes, n);
  const mutual = cells.reduce((sum, { truth, predicted, count }) => {
    const expected = ((truthSizes[truth] as number) * (predictedSizes[predicted] as number)) / n;
    return sum + (count / n) * Math.log(count / expected);
  }, 0);
  const homogeneity = truthEntropy === 0 ? 1 : mutual / truthEntropy;
  const completeness = predictedEntropy === 0 ? 1 : mutual / predictedEntropy;
  const vMeasure =
    homogeneity + completeness === 0
      ? 0
      : (2 * homogeneity * completeness) / (homogeneity + completeness);
  const bothTrivial = truthSizes.length <= 1 && predictedSizes.length <= 1;
  const nmi = bothTrivial ? 1 : mutual <= 0 ? 0 : mutual / ((truthEntropy + predictedEntropy) / 2);
  return { nmi, homogeneity, completeness, vMeasure };
}
