/**
 * A token bucket refilled continuously at `ratePerSecond` up to `capacity`. Spending may take
 * more than is left: the debt then delays later takers, so a single cost larger than the
 * capacity (one big export against a bytes budget) passes once instead of never.
 */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    /** Milliseconds from any fixed origin. */
    private readonly now: () => number,
  ) {
    this.#tokens = capacity;
    this.#updatedAt = now();
  }

  /** Seconds until the bucket holds `amount` tokens; 0 when it holds them now. */
  secondsUntil(amount: number): number {
    this.#refill();
    return this.#tokens >= amount ? 0 : (amount - this.#tokens) / this.ratePerSecond;
  }

  spend(amount: number): void {
    this.#refill();
    this.#tokens -= amount;
  }

  #refill(): void {
    const now = this.now();
    const earned = ((now - this.#updatedAt) / 1000) * this.ratePerSecond;
    this.#tokens = Math.min(this.capacity, this.#tokens + earned);
    this.#updatedAt = now;
  }
}
