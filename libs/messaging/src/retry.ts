import { ErrorCode, UnderstudyError } from '@understudy/errors';

/** How a consumer retries a handler that failed with a retryable error before dead-lettering. */
export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  readonly attempts: number;
  /** Pause after the first failure; it doubles after each further one. */
  readonly baseDelayMs: number;
  /** Upper bound of a pause; keep attempts × maxDelayMs well below the consumer session timeout. */
  readonly maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  attempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
});

/** Fills a partial policy from a base and rejects values that cannot work. */
export function retryPolicy(
  overrides: Partial<RetryPolicy> = {},
  base: RetryPolicy = defaultRetryPolicy,
): RetryPolicy {
  const policy = { ...base, ...overrides };
  const problems = [
    Number.isInteger(policy.attempts) && policy.attempts >= 1 ? undefined : 'attempts must be >= 1',
    policy.baseDelayMs >= 0 ? undefined : 'baseDelayMs must be >= 0',
    policy.maxDelayMs >= policy.baseDelayMs ? undefined : 'maxDelayMs must be >= baseDelayMs',
  ].filter((problem) => problem !== undefined);
  if (problems.length > 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `invalid retry policy: ${problems.join('; ')}`,
    );
  }
  return Object.freeze(policy);
}

/** The pause after attempt number `attempt` (1-based) failed: base · 2^(attempt − 1), capped. */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
}
