/** Bytes one request holds of the shared budget; it may grow as its body arrives. */
export interface Reservation {
  /** The whole budget: what one request can never grow past. */
  readonly limit: number;
  /** Holds `bytes` in all; false, holding what it held, when growing would pass the limit. */
  resize(bytes: number): boolean;
  /** Returns everything held; safe to call more than once. */
  release(): void;
}

/**
 * The bytes of exports being read, decoded or ingested, across all requests and transports. A
 * request that would take the total past the limit is refused (retryably) rather than queued,
 * so memory stays bounded however many exporters push at once.
 */
export class InFlightBytes {
  #used = 0;

  constructor(readonly limit: number) {}

  get used(): number {
    return this.#used;
  }

  reserve(): Reservation {
    let held = 0;
    return {
      limit: this.limit,
      resize: (bytes) => {
        if (bytes > held && this.#used + bytes - held > this.limit) return false;
        this.#used += bytes - held;
        held = bytes;
        return true;
      },
      release: () => {
        this.#used -= held;
        held = 0;
      },
    };
  }
}
