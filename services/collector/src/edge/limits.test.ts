import { describe, expect, it } from 'vitest';
import { InFlightBytes } from './in-flight.js';
import { TenantLimiter } from './tenant-limiter.js';
import { TokenBucket } from './token-bucket.js';

/** A clock the test moves by hand, in milliseconds. */
function fakeClock() {
  let now = 0;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('TokenBucket', () => {
  it('refills at its rate up to its capacity', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(10, 10, clock.now);
    bucket.spend(10);
    expect(bucket.secondsUntil(1)).toBeCloseTo(0.1);
    clock.advance(500);
    expect(bucket.secondsUntil(5)).toBe(0);
    expect(bucket.secondsUntil(6)).toBeCloseTo(0.1);
    clock.advance(60_000);
    expect(bucket.secondsUntil(10)).toBe(0);
    expect(bucket.secondsUntil(11)).toBeCloseTo(0.1);
  });

  it('runs into debt, which later takers wait off', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(100, 100, clock.now);
    bucket.spend(350);
    expect(bucket.secondsUntil(1)).toBeCloseTo(2.51);
    clock.advance(2_500);
    expect(bucket.secondsUntil(1)).toBeCloseTo(0.01);
  });
});

describe('TenantLimiter', () => {
  const defaults = { requestsPerSecond: 2, bytesPerSecond: 1_000, maxBodyBytes: 500 };

  it('throttles a tenant over its request rate without touching another', () => {
    const clock = fakeClock();
    const limiter = new TenantLimiter(defaults, new Map(), clock.now);
    expect(limiter.admit('acme')).toBeUndefined();
    expect(limiter.admit('acme')).toBeUndefined();
    expect(limiter.admit('acme')).toEqual({ reason: 'requests', retryAfterSeconds: 1 });
    expect(limiter.admit('globex')).toBeUndefined();
    clock.advance(500);
    expect(limiter.admit('acme')).toBeUndefined();
    expect(limiter.admit('acme')).toEqual({ reason: 'requests', retryAfterSeconds: 1 });
  });

  it('refuses new requests while a tenant pays off the bytes it sent', () => {
    const clock = fakeClock();
    const limiter = new TenantLimiter(defaults, new Map(), clock.now);
    expect(limiter.admit('acme')).toBeUndefined();
    limiter.charge('acme', 3_500);
    expect(limiter.admit('acme')).toEqual({ reason: 'bytes', retryAfterSeconds: 3 });
    clock.advance(2_600);
    expect(limiter.admit('acme')).toBeUndefined();
  });

  it('applies per-tenant overrides over the defaults', () => {
    const clock = fakeClock();
    const overrides = new Map([['acme', { requestsPerSecond: 1, maxBodyBytes: 4_000 }]]);
    const limiter = new TenantLimiter(defaults, overrides, clock.now);
    expect(limiter.limitsOf('acme')).toEqual({
      requestsPerSecond: 1,
      bytesPerSecond: 1_000,
      maxBodyBytes: 4_000,
    });
    expect(limiter.limitsOf('globex')).toEqual(defaults);
    expect(limiter.largestBodyBytes).toBe(4_000);
    expect(limiter.admit('acme')).toBeUndefined();
    expect(limiter.admit('acme')?.reason).toBe('requests');
  });
});

describe('InFlightBytes', () => {
  it('grows and shrinks reservations within the limit and returns them on release', () => {
    const inFlight = new InFlightBytes(100);
    const first = inFlight.reserve();
    const second = inFlight.reserve();
    expect(first.resize(60)).toBe(true);
    expect(second.resize(50)).toBe(false);
    expect(second.resize(40)).toBe(true);
    expect(inFlight.used).toBe(100);
    expect(first.resize(30)).toBe(true);
    expect(second.resize(70)).toBe(true);
    first.release();
    first.release();
    expect(inFlight.used).toBe(70);
    second.release();
    expect(inFlight.used).toBe(0);
  });
});
