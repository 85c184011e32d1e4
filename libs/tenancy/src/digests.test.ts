import { createHash } from 'node:crypto';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { DigestMatcher, sha256Hex } from './digests.js';

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');

describe('DigestMatcher', () => {
  it('finds what a secret stands for by its digest, in either case of hex', () => {
    const matcher = new DigestMatcher([
      [sha256('token-a'), { subject: 'a' }],
      [sha256('token-b').toUpperCase(), { subject: 'b' }],
    ]);
    expect(matcher.size).toBe(2);
    expect(matcher.match('token-a')).toEqual({ subject: 'a' });
    expect(matcher.match('token-b')).toEqual({ subject: 'b' });
    expect(matcher.match('token-c')).toBeUndefined();
    expect(matcher.match('')).toBeUndefined();
  });

  it('answers the first of entries sharing a digest', () => {
    const matcher = new DigestMatcher([
      [sha256('shared'), 'first'],
      [sha256('shared'), 'second'],
    ]);
    expect(matcher.match('shared')).toBe('first');
  });

  it('refuses a digest that is not 64 hex digits', () => {
    expect(() => new DigestMatcher([['abc', 'short']])).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
    expect(sha256Hex().safeParse(sha256('x')).success).toBe(true);
    expect(sha256Hex().safeParse('z'.repeat(64)).success).toBe(false);
  });
});
