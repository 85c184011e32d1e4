import { describe, expect, it } from 'vitest';
import { RevisionNotifier } from './revision-notifier.js';

describe('RevisionNotifier', () => {
  it('wakes waiters on a later revision, at once if it came already', async () => {
    const notifier = new RevisionNotifier();
    const signal = new AbortController().signal;
    const started = Date.now();
    const waiting = notifier.changedAfter(0n, 10_000, signal);
    notifier.announce(3n);
    await waiting;
    expect(Date.now() - started).toBeLessThan(1_000);
    await notifier.changedAfter(2n, 10_000, signal); // already past 2
    notifier.announce(1n); // older: ignored
    expect(notifier.latest).toBe(3n);
  });

  it('gives up after the timeout or when aborted', async () => {
    const notifier = new RevisionNotifier();
    const started = Date.now();
    await notifier.changedAfter(0n, 50, new AbortController().signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    const controller = new AbortController();
    const waiting = notifier.changedAfter(0n, 10_000, controller.signal);
    controller.abort();
    await waiting;
  });
});
