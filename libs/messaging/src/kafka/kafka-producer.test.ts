import { describe, expect, it } from 'vitest';
import type { OutgoingRecord } from '../driver.js';
import { chunks } from './kafka-producer.js';

const record = (id: string, bytes: number): OutgoingRecord => ({
  topic: 't',
  key: id,
  value: new Uint8Array(bytes),
  headers: { h: 'v' },
});
const ids = (runs: Iterable<readonly OutgoingRecord[]>) =>
  [...runs].map((run) => run.map((r) => r.key));

describe('chunks', () => {
  it('cuts consecutive records into runs under the budget, a larger record alone', () => {
    // Each record counts its key, value and headers: 1 + n + 2 bytes.
    const records = [record('a', 40), record('b', 40), record('c', 200), record('d', 10)];
    expect(ids(chunks(records, 100))).toEqual([['a', 'b'], ['c'], ['d']]);
  });

  it('keeps everything in one run when it fits, and yields nothing for nothing', () => {
    expect(ids(chunks([record('a', 1), record('b', 1)], 100))).toEqual([['a', 'b']]);
    expect(ids(chunks([], 100))).toEqual([]);
  });
});
