import { describe, expect, it } from 'vitest';
import { int32, int64 } from './numbers.js';

describe('whole numbers for the contract', () => {
  it('keeps int32 counts, from numbers or numeric text, and leaves out what overflows', () => {
    expect([0, 81, '64', -1, 2 ** 31 - 1].map(int32)).toEqual([0, 81, 64, -1, 2 ** 31 - 1]);
    expect([2 ** 31, -(2 ** 31) - 1, 2 ** 53, 9.2e18, 1.5, 'x', null].map(int32)).toEqual(
      Array.from({ length: 7 }, () => undefined),
    );
  });

  it('keeps int64 seeds, and leaves out what overflows', () => {
    expect([42, '-7', 2 ** 53].map(int64)).toEqual([42n, -7n, 2n ** 53n]);
    // 2^63 - 1 is no double: OTLP's int64 arrives as the nearest one, 2^63.
    expect([2 ** 63, -(2 ** 64), 'seed'].map(int64)).toEqual([undefined, undefined, undefined]);
  });
});
