import { parseJsonFile, z } from '@understudy/config';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { DigestMatcher, sha256Hex } from './digests.js';
import { readMountedFile } from './mounted-file.js';

/** Per-tenant overrides of a service's limits; what is left out keeps the service default. */
export interface TenantLimits {
  readonly requestsPerSecond?: number;
  readonly bytesPerSecond?: number;
  readonly maxBodyBytes?: number;
}

const limitNames = [
  'requestsPerSecond',
  'bytesPerSecond',
  'maxBodyBytes',
] as const satisfies readonly (keyof TenantLimits)[];

const limit = () => z.number().int().positive().optional();

const keysFile = z.array(
  z.object({
    tenant: z.string().min(1),
    sha256: sha256Hex(),
    // Strict: a misspelt limit would otherwise be dropped silently and the default applied.
    limits: z
      .strictObject({ requestsPerSecond: limit(), bytesPerSecond: limit(), maxBodyBytes: limit() })
      .optional(),
  }),
);

/** API keys to tenants, held as SHA-256 digests (see `DigestMatcher`). */
export class TenantKeys {
  private constructor(
    private readonly keys: DigestMatcher<string>,
    /** Overrides by tenant, for tenants whose entries set `limits`. */
    readonly limits: ReadonlyMap<string, TenantLimits>,
  ) {}

  /**
   * Parses `[{ "tenant": "...", "sha256": "<hex of the key>", "limits"?: {...} }]`; `source`
   * names it in errors, which never echo its content. A tenant with several keys may set its limits on any of their entries,
   * but entries must not disagree.
   */
  static parse(json: string, source: string): TenantKeys {
    const entries = parseJsonFile(json, source, keysFile, 'a tenant keys file');
    return new TenantKeys(
      new DigestMatcher(entries.map(({ tenant, sha256 }) => [sha256, tenant] as const)),
      limitsByTenant(entries, source),
    );
  }

  get size(): number {
    return this.keys.size;
  }

  /** The tenant owning `key`, or undefined. */
  tenantOf(key: string): string | undefined {
    return this.keys.match(key);
  }
}

function limitsByTenant(
  entries: z.infer<typeof keysFile>,
  source: string,
): Map<string, TenantLimits> {
  const byTenant = new Map<string, Record<string, number>>();
  const conflicts = new Set<string>();
  for (const { tenant, limits } of entries) {
    if (limits === undefined) continue;
    const merged = byTenant.get(tenant) ?? {};
    for (const name of limitNames) {
      const value = limits[name];
      if (value === undefined) continue;
      if (merged[name] !== undefined && merged[name] !== value) conflicts.add(`${tenant} ${name}`);
      merged[name] = value;
    }
    byTenant.set(tenant, merged);
  }
  if (conflicts.size > 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `${source} sets different limits for one tenant: ${[...conflicts].join('; ')}`,
    );
  }
  return byTenant;
}

/** Reads the tenant keys file mounted from a Secret (`UNDERSTUDY_TENANT_KEYS_FILE`). */
export async function readTenantKeys(path: string): Promise<TenantKeys> {
  return TenantKeys.parse(await readMountedFile(path, 'tenant keys'), path);
}
