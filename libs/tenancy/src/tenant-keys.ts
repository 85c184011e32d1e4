import { readFile } from 'node:fs/promises';
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from '@understudy/config';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

const keysFile = z.array(
  z.object({
    tenant: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits'),
  }),
);

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * API keys to tenants. Only SHA-256 digests of the keys are held; a presented key is hashed and
 * compared against every digest in constant time, so neither a match nor its position leaks
 * through timing.
 */
export class TenantKeys {
  private constructor(
    private readonly entries: readonly { readonly tenant: string; readonly digest: Buffer }[],
  ) {}

  /** Parses `[{ "tenant": "...", "sha256": "<hex of the key>" }]`; `source` names it in errors. */
  static parse(json: string, source: string): TenantKeys {
    let document: unknown;
    try {
      document = JSON.parse(json);
    } catch (error) {
      throw new UnderstudyError(ErrorCode.InvalidArgument, `${source} is not JSON`, {
        cause: error,
      });
    }
    const parsed = keysFile.safeParse(document);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
      );
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `${source} is not a tenant keys file: ${problems.join('; ')}`,
      );
    }
    return new TenantKeys(
      parsed.data.map(({ tenant, sha256 }) => ({ tenant, digest: Buffer.from(sha256, 'hex') })),
    );
  }

  get size(): number {
    return this.entries.length;
  }

  /** The tenant owning `key`, or undefined. */
  tenantOf(key: string): string | undefined {
    const presented = digest(key);
    let tenant: string | undefined;
    for (const entry of this.entries) {
      // No early exit: every digest is compared whatever matched before.
      if (timingSafeEqual(entry.digest, presented)) tenant ??= entry.tenant;
    }
    return tenant;
  }
}

/** Reads the tenant keys file mounted from a Secret (`UNDERSTUDY_TENANT_KEYS_FILE`). */
export async function readTenantKeys(path: string): Promise<TenantKeys> {
  let json: string;
  try {
    json = await readFile(path, 'utf8');
  } catch (error) {
    throw new UnderstudyError(ErrorCode.FailedPrecondition, `cannot read tenant keys ${path}`, {
      cause: error,
    });
  }
  return TenantKeys.parse(json, path);
}
