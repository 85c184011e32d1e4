/**
 * Vectors as the discovery code keeps them: rows of one Float32Array (`dimension` wide), so that
 * a million embeddings are one allocation rather than a million objects.
 */

/** Dot product of row `i` of `rows` with `other` starting at `offset`. */
export function dotRow(
  rows: Float32Array,
  i: number,
  other: ArrayLike<number>,
  offset: number,
  dimension: number,
): number {
  const base = i * dimension;
  let sum = 0;
  for (let k = 0; k < dimension; k++)
    sum += (rows[base + k] as number) * (other[offset + k] as number);
  return sum;
}

/** Adds row `i` of `rows` into `sum`. */
export function addRow(sum: Float64Array, rows: Float32Array, i: number): void {
  const dimension = sum.length;
  const base = i * dimension;
  for (let k = 0; k < dimension; k++) sum[k] = (sum[k] as number) + (rows[base + k] as number);
}

/** `vector` scaled to unit length (a zero vector stays zero). */
export function unit(vector: ArrayLike<number>): Float64Array {
  let norm = 0;
  for (let k = 0; k < vector.length; k++) norm += (vector[k] as number) ** 2;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  return Float64Array.from(vector, (value) => value * scale);
}

/** Copies the given rows into a new table of their own. */
export function pickRows(
  rows: Float32Array,
  indices: ArrayLike<number>,
  dimension: number,
): Float32Array {
  const picked = new Float32Array(indices.length * dimension);
  for (let r = 0; r < indices.length; r++) {
    const from = (indices[r] as number) * dimension;
    picked.set(rows.subarray(from, from + dimension), r * dimension);
  }
  return picked;
}
