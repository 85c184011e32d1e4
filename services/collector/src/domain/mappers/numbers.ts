import { integer, type Value } from '../attributes.js';

/**
 * Whole numbers as the contract's fields hold them. Counts and limits (tokens, `max_tokens`,
 * `top_k`, `n`, a choice's index) are int32 and a seed is int64: a value beyond that range is
 * no count a model reported but garbage, and left out rather than failing the whole call.
 */

const int32Range = 2 ** 31;
const int64Range = 2n ** 63n;

export function int32(value: Value | undefined): number | undefined {
  const number = integer(value);
  return number !== undefined && number >= -int32Range && number < int32Range ? number : undefined;
}

export function int64(value: Value | undefined): bigint | undefined {
  const number = integer(value);
  if (number === undefined) return undefined;
  const big = BigInt(number);
  return big >= -int64Range && big < int64Range ? big : undefined;
}
