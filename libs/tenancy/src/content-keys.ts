import { createSecretKey, type KeyObject } from 'node:crypto';
import { env, parseJsonFile, setting, z } from '@understudy/config';
import { readMountedFile } from './mounted-file.js';

/**
 * `UNDERSTUDY_CONTENT_KEYS_FILE`: the content keys file mounted from a Secret. Unset, a service
 * reads plain content only and refuses encrypted content.
 */
export const contentKeysFileSetting = setting(
  'UNDERSTUDY_CONTENT_KEYS_FILE',
  env.text().optional(),
);

const keyEntry = z.strictObject({
  tenant: z.string().min(1),
  keyId: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
      'must be 1 to 128 letters, digits, ".", "_", ":" or "-"',
    ),
  // 32 bytes are 43 base64 characters and one "=". The message never repeats the value.
  key: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be the base64 of 32 bytes (openssl rand -base64 32)'),
  active: z.boolean().optional(),
});

const keysFile = z
  .array(keyEntry)
  .min(1, 'lists no keys')
  .superRefine((entries, context) => {
    const ids = new Map<string, number>();
    const materials = new Map<string, number>();
    const active = new Map<string, number>();
    entries.forEach((entry, index) => {
      // Key ids are unique across tenants, so a key id alone tells whose content it sealed.
      const sameId = ids.get(entry.keyId);
      if (sameId !== undefined) {
        context.addIssue({
          code: 'custom',
          path: [index, 'keyId'],
          message: `"${entry.keyId}" is also the id of entry ${sameId}`,
        });
      }
      ids.set(entry.keyId, index);
      // One key serving two entries would let one tenant's key open another tenant's content.
      // Compared decoded: base64 leaves spare bits, so one key has several spellings.
      const material = Buffer.from(entry.key, 'base64').toString('hex');
      const sameKey = materials.get(material);
      if (sameKey !== undefined) {
        context.addIssue({
          code: 'custom',
          path: [index, 'key'],
          message: `is the same key as entry ${sameKey}`,
        });
      }
      materials.set(material, index);
      if (entry.active !== true) return;
      const activeBefore = active.get(entry.tenant);
      if (activeBefore !== undefined) {
        context.addIssue({
          code: 'custom',
          path: [index, 'active'],
          message: `tenant "${entry.tenant}" already has its active key in entry ${activeBefore}`,
        });
      }
      active.set(entry.tenant, index);
    });
    for (const tenant of new Set(entries.map((entry) => entry.tenant))) {
      if (!active.has(tenant)) {
        context.addIssue({
          code: 'custom',
          path: [],
          message: `tenant "${tenant}" has no key with "active": true`,
        });
      }
    }
  });

/** A tenant's key-encryption key. The KeyObject never shows its bytes when logged or serialized. */
export interface ContentKey {
  readonly tenant: string;
  readonly keyId: string;
  readonly key: KeyObject;
  readonly active: boolean;
}

/**
 * Tenants' key-encryption keys for content. Each tenant has exactly one active key, which
 * encrypts new content; every listed key decrypts, so content written before a rotation stays
 * readable for as long as its key is listed.
 */
export class ContentKeyring {
  private constructor(
    private readonly byId: ReadonlyMap<string, ContentKey>,
    private readonly activeByTenant: ReadonlyMap<string, ContentKey>,
  ) {}

  /**
   * Parses `[{ "tenant", "keyId", "key": "<base64 of 32 bytes>", "active"?: true }]`; `source`
   * names it in errors, which name entries and fields but never a key.
   */
  static parse(json: string, source: string): ContentKeyring {
    const entries = parseJsonFile(json, source, keysFile, 'a content keys file');
    const keys = entries.map(({ tenant, keyId, key, active }): ContentKey => ({
      tenant,
      keyId,
      key: createSecretKey(Buffer.from(key, 'base64')),
      active: active === true,
    }));
    return new ContentKeyring(
      new Map(keys.map((key) => [key.keyId, key])),
      new Map(keys.filter((key) => key.active).map((key) => [key.tenant, key])),
    );
  }

  /** The key that encrypts the tenant's new content; undefined for a tenant not in the file. */
  activeKey(tenant: string): ContentKey | undefined {
    return this.activeByTenant.get(tenant);
  }

  /** Any listed key, active or retired, by its id. */
  key(keyId: string): ContentKey | undefined {
    return this.byId.get(keyId);
  }
}

/** Reads the content keys file mounted from a Secret (`UNDERSTUDY_CONTENT_KEYS_FILE`). */
export async function readContentKeys(path: string): Promise<ContentKeyring> {
  return ContentKeyring.parse(await readMountedFile(path, 'content keys'), path);
}
