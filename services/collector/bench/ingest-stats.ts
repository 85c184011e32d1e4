/** The `p`-th percentile (0–100) of `values`, nearest rank; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

/** The median, the mean of the middle two for an even count; NaN when there are none. */
export function median(values: readonly number[]): number {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const middle = finite.length / 2;
  return Number.isInteger(middle)
    ? ((finite[middle - 1] ?? 0) + (finite[middle] ?? 0)) / 2
    : (finite[Math.floor(middle)] ?? Number.NaN);
}

/** Each numeric field's median over `items` (all of the same shape), nested objects included. */
export function medians<T extends object>(items: readonly T[]): T {
  const [first] = items;
  if (first === undefined) throw new Error('no items to take the median of');
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(first)) {
    const values = items.map((item) => (item as Record<string, unknown>)[key]);
    if (typeof value === 'number') result[key] = median(values as number[]);
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      result[key] = medians(values as object[]);
    } else result[key] = value;
  }
  return result as T;
}
