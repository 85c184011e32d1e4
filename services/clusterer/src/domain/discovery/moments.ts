import { addRow } from './vectors.js';

/** Sufficient statistics of a set of embeddings: enough to compare sets without their members. */
export interface Moments {
  readonly count: number;
  /** Sum of the embeddings. */
  readonly sum: Float64Array;
  /** Sum of their squared norms (the count, for unit vectors). */
  readonly squares: number;
}

export function momentsOf(
  rows: Float32Array,
  members: ArrayLike<number>,
  dimension: number,
): Moments {
  const sum = new Float64Array(dimension);
  let squares = 0;
  for (let m = 0; m < members.length; m++) {
    const i = members[m] as number;
    addRow(sum, rows, i);
    for (let k = i * dimension; k < (i + 1) * dimension; k++) squares += (rows[k] as number) ** 2;
  }
  return { count: members.length, sum, squares };
}

export function combine(a: Moments, b: Moments): Moments {
  return {
    count: a.count + b.count,
    sum: a.sum.map((value, k) => value + (b.sum[k] as number)),
    squares: a.squares + b.squares,
  };
}

/** Mean dot product of two distinct members: how tightly the set clusters (undefined below 2). */
export function cohesion(m: Moments): number | undefined {
  if (m.count < 2) return undefined;
  let norm = 0;
  for (const value of m.sum) norm += value * value;
  return (norm - m.squares) / (m.count * (m.count - 1));
}

/**
 * How alike two sets' distributions are: the mean cross-set dot product over the geometric mean
 * of the within-set ones. Near 1 when both are samples of one distribution, whatever their sizes
 * and however diffuse it is (a centroid's cosine would shrink with small, diffuse samples);
 * lower as the distributions part. The cosine of the two mean embeddings, corrected for the bias
 * each sample's self-similarity puts into its own mean.
 */
export function overlap(a: Moments, b: Moments): number {
  const ca = cohesion(a);
  const cb = cohesion(b);
  if (ca === undefined || cb === undefined || ca <= 0 || cb <= 0) return 0;
  let cross = 0;
  for (let k = 0; k < a.sum.length; k++) cross += (a.sum[k] as number) * (b.sum[k] as number);
  return cross / (a.count * b.count) / Math.sqrt(ca * cb);
}
