import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

interface KeyEntry {
  readonly tenant: string;
  readonly digest: Buffer;
}

/**
 * Tenants' API keys, held as SHA-256 digests only: the keys file (a mounted Secret) is JSON
 * `[{ "tenant": "acme", "sha256": "<hex of the key's SHA-256>" }]`, the collector's format.
 */
export class TenantKeys {
  readonly #entries: readonly KeyEntry[];

  private constructor(entries: readonly KeyEntry[]) {
    this.#entries = entries;
  }

  static parse(json: string): TenantKeys {
    const invalid = (reason: string) =>
      new UnderstudyError(ErrorCode.InvalidArgument, `invalid tenant keys file: ${reason}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (error) {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'invalid tenant keys file: not JSON', {
        cause: error,
      });
    }
    if (!Array.isArray(parsed)) throw invalid('expected an array');
    const entries = parsed.map((entry: unknown, index): KeyEntry => {
      if (typeof entry !== 'object' || entry === null) throw invalid(`entry ${index}`);
      const { tenant, sha256 } = entry as Record<string, unknown>;
      if (typeof tenant !== 'string' || tenant === '') throw invalid(`entry ${index}: tenant`);
      if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(sha256)) {
        throw invalid(`entry ${index}: sha256 must be 64 hex digits`);
      }
      return { tenant, digest: Buffer.from(sha256, 'hex') };
    });
    return new TenantKeys(entries);
  }

  /** The tenant owning `key`, or undefined. Compares with every entry in constant time. */
  tenantOf(key: string): string | undefined {
    const digest = createHash('sha256').update(key).digest();
    let tenant: string | undefined;
    for (const entry of this.#entries) {
      // No early exit: the time taken must not reveal which entry (if any) matched.
      if (timingSafeEqual(entry.digest, digest)) tenant ??= entry.tenant;
    }
    return tenant;
  }
}
