import type { TenantLimits } from '@understudy/tenancy';
import { TokenBucket } from './token-bucket.js';

/** What one tenant may send to one collector replica. */
export interface Limits {
  readonly requestsPerSecond: number;
  readonly bytesPerSecond: number;
  /** Largest export, after decompression. */
  readonly maxBodyBytes: number;
}

/** Why a request was refused and when to try again (whole seconds, as Retry-After has them). */
export interface Throttle {
  readonly reason: 'requests' | 'bytes';
  readonly retryAfterSeconds: number;
}

interface Buckets {
  readonly requests: TokenBucket;
  readonly bytes: TokenBucket;
}

/**
 * Rate limits per tenant: service-wide defaults, overridden per tenant from the keys file. Each
 * tenant has its own buckets, each holding one second's worth, so one tenant's burst never
 * spends another's budget. Buckets exist only for tenants that authenticated, whose number the
 * keys file bounds.
 */
export class TenantLimiter {
  readonly #buckets = new Map<string, Buckets>();

  constructor(
    private readonly defaults: Limits,
    private readonly overrides: ReadonlyMap<string, TenantLimits>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  limitsOf(tenantId: string): Limits {
    return { ...this.defaults, ...this.overrides.get(tenantId) };
  }

  /** The largest body any tenant may send: what a transport must be ready to receive. */
  get largestBodyBytes(): number {
    return Math.max(
      this.defaults.maxBodyBytes,
      ...[...this.overrides.values()].map((limits) => limits.maxBodyBytes ?? 0),
    );
  }

  /**
   * Counts one request, unless the tenant is over its request rate or still paying off bytes it
   * sent: then nothing is counted and the throttle says when to come back.
   */
  admit(tenantId: string): Throttle | undefined {
    const buckets = this.#bucketsOf(tenantId);
    const requestWait = buckets.requests.secondsUntil(1);
    const bytesWait = buckets.bytes.secondsUntil(1);
    if (requestWait === 0 && bytesWait === 0) {
      buckets.requests.spend(1);
      return undefined;
    }
    return {
      reason: requestWait >= bytesWait ? 'requests' : 'bytes',
      retryAfterSeconds: Math.max(1, Math.ceil(Math.max(requestWait, bytesWait))),
    };
  }

  /** Counts the bytes of an admitted export; the sizes are only known once it is read. */
  charge(tenantId: string, bytes: number): void {
    this.#bucketsOf(tenantId).bytes.spend(bytes);
  }

  #bucketsOf(tenantId: string): Buckets {
    let buckets = this.#buckets.get(tenantId);
    if (buckets === undefined) {
      const { requestsPerSecond, bytesPerSecond } = this.limitsOf(tenantId);
      buckets = {
        requests: new TokenBucket(requestsPerSecond, requestsPerSecond, this.now),
        bytes: new TokenBucket(bytesPerSecond, bytesPerSecond, this.now),
      };
      this.#buckets.set(tenantId, buckets);
    }
    return buckets;
  }
}
