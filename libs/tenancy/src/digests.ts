import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from '@understudy/config';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

const hexDigest = /^[0-9a-fA-F]{64}$/;

/** How a key's SHA-256 is written in keys and principals files: 64 hex digits, any case. */
export const sha256Hex = () => z.string().regex(hexDigest, 'must be 64 hex digits');

const digest = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

/**
 * Secrets (API keys, bearer tokens) to what they stand for. Only SHA-256 digests are held; a
 * presented secret is hashed and compared against every digest in constant time, so neither a
 * match nor its position leaks through timing.
 */
export class DigestMatcher<T> {
  readonly #entries: readonly { readonly digest: Buffer; readonly value: T }[];

  /** `entries`: the hex digest of each secret (as `sha256Hex` accepts it) and its value. */
  constructor(entries: Iterable<readonly [sha256: string, value: T]>) {
    this.#entries = [...entries].map(([sha256, value]) => {
      if (!hexDigest.test(sha256)) {
        throw new UnderstudyError(ErrorCode.InvalidArgument, 'a SHA-256 digest is 64 hex digits');
      }
      return { digest: Buffer.from(sha256, 'hex'), value };
    });
  }

  get size(): number {
    return this.#entries.length;
  }

  /** What `secret` stands for (the first entry with its digest), or undefined. */
  match(secret: string): T | undefined {
    const presented = digest(secret);
    let found: T | undefined;
    let matched = false;
    for (const entry of this.#entries) {
      // No early exit: every digest is compared whatever matched before.
      if (timingSafeEqual(entry.digest, presented) && !matched) {
        found = entry.value;
        matched = true;
      }
    }
    return found;
  }
}
