import { Injectable } from '@nestjs/common';

/**
 * The highest routing table revision known to have committed, and waits for a higher one. The
 * routing feed waits on it: announced by this process's own changes and by every replica's
 * NOTIFY (RoutingListener), so that a promotion is read at once instead of at the next poll.
 */
@Injectable()
export class RevisionNotifier {
  #latest = 0n;
  #waiters = new Set<() => void>();

  /** The highest revision announced so far. */
  get latest(): bigint {
    return this.#latest;
  }

  announce(revision: bigint): void {
    if (revision <= this.#latest) return;
    this.#latest = revision;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /**
   * Resolves once a revision above `seen` is announced, after `timeoutMs`, or when `signal`
   * aborts, whichever comes first; at once if one was announced already.
   */
  async changedAfter(seen: bigint, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.#latest > seen || signal.aborted) return;
    let wake = (): void => undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve) => {
        wake = resolve;
        this.#waiters.add(wake);
        timer = setTimeout(resolve, timeoutMs);
        signal.addEventListener('abort', wake, { once: true });
      });
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(wake);
      signal.removeEventListener('abort', wake);
    }
  }
}
