import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher.js';

/** A batch function that records its batches and how many ran at once. */
function recorder(delayMs = 5) {
  const batches: number[][] = [];
  let running = 0;
  let maxRunning = 0;
  const run = async (items: readonly number[]) => {
    batches.push([...items]);
    running += 1;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    running -= 1;
    return items.map((item) => item * 10);
  };
  return { batches, run, maxRunning: () => maxRunning };
}

describe('Batcher', () => {
  it('starts at once when idle and gathers what queues while busy', async () => {
    const { batches, run } = recorder();
    const batcher = new Batcher(run, { maxBatchSize: 10, concurrency: 1 });
    const first = batcher.submit(1);
    await new Promise((resolve) => setTimeout(resolve, 1));
    const rest = [2, 3, 4].map((item) => batcher.submit(item));
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('keeps batches within the size and calls within the concurrency', async () => {
    const { batches, run, maxRunning } = recorder();
    const sizes: number[] = [];
    const batcher = new Batcher(run, {
      maxBatchSize: 3,
      concurrency: 2,
      onBatch: (size) => sizes.push(size),
    });
    const items = Array.from({ length: 10 }, (_, i) => i);
    expect(await Promise.all(items.map((item) => batcher.submit(item)))).toEqual(
      items.map((item) => item * 10),
    );
    expect(batches.flat()).toEqual(items);
    expect(sizes).toEqual([3, 3, 3, 1]);
    expect(maxRunning()).toBe(2);
  });

  it('fails every item of a failed batch, and goes on with the next', async () => {
    let calls = 0;
    const batcher = new Batcher(
      (items: readonly number[]) => {
        calls += 1;
        return calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(items);
      },
      { maxBatchSize: 2, concurrency: 1 },
    );
    const failed = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
    expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await batcher.submit(3)).toBe(3);
  });

  it('refuses a batch function that loses results', async () => {
    const batcher = new Batcher(() => Promise.resolve([1]), { maxBatchSize: 2, concurrency: 1 });
    await expect(Promise.all([batcher.submit(1), batcher.submit(2)])).rejects.toThrow(
      'a batch of 2 came back with 1 results',
    );
  });
});
