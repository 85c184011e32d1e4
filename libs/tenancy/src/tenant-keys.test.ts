import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { readTenantKeys, TenantKeys } from './tenant-keys.js';

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

describe('TenantKeys', () => {
  const keys = TenantKeys.parse(
    JSON.stringify([
      { tenant: 'acme', sha256: sha256('key-acme') },
      { tenant: 'globex', sha256: sha256('key-globex').toUpperCase() },
    ]),
    'keys.json',
  );

  it('finds the tenant of a key by its digest', () => {
    expect(keys.size).toBe(2);
    expect(keys.tenantOf('key-acme')).toBe('acme');
    expect(keys.tenantOf('key-globex')).toBe('globex');
    expect(keys.tenantOf('key-unknown')).toBeUndefined();
    expect(keys.tenantOf('')).toBeUndefined();
  });

  it('names the file and the bad entries, never echoing the content', () => {
    expect(() => TenantKeys.parse('{nope', '/etc/keys.json')).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidArgument,
        message: '/etc/keys.json is not JSON',
      }),
    );
    expect(() =>
      TenantKeys.parse(JSON.stringify([{ tenant: '', sha256: 'secret-ish' }]), 'k.json'),
    ).toThrow(/k\.json is not a tenant keys file: 0\.tenant: .*; 0\.sha256: must be 64 hex digits/);
  });
});

describe('TenantKeys limits', () => {
  it('holds per-tenant overrides, merged across the keys of a tenant', () => {
    const keys = TenantKeys.parse(
      JSON.stringify([
        { tenant: 'acme', sha256: sha256('old'), limits: { requestsPerSecond: 5 } },
        { tenant: 'acme', sha256: sha256('new'), limits: { maxBodyBytes: 1024 } },
        { tenant: 'globex', sha256: sha256('g') },
      ]),
      'keys.json',
    );
    expect(keys.limits.get('acme')).toEqual({ requestsPerSecond: 5, maxBodyBytes: 1024 });
    expect(keys.limits.get('globex')).toBeUndefined();
  });

  it('refuses misspelt, non-positive or conflicting limits', () => {
    const entry = (limits: unknown) => ({ tenant: 'acme', sha256: sha256('k'), limits });
    expect(() =>
      TenantKeys.parse(JSON.stringify([entry({ requestsPerSec: 5 })]), 'k.json'),
    ).toThrow(/k\.json is not a tenant keys file: 0\.limits: .*requestsPerSec/);
    expect(() =>
      TenantKeys.parse(JSON.stringify([entry({ bytesPerSecond: 0 })]), 'k.json'),
    ).toThrow(/0\.limits\.bytesPerSecond/);
    expect(() =>
      TenantKeys.parse(
        JSON.stringify([entry({ maxBodyBytes: 1 }), entry({ maxBodyBytes: 2 })]),
        'k.json',
      ),
    ).toThrow('k.json sets different limits for one tenant: acme maxBodyBytes');
  });
});

describe('readTenantKeys', () => {
  it('reads a mounted file and reports a missing one as a precondition', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));
    const path = join(dir, 'keys.json');
    await writeFile(path, JSON.stringify([{ tenant: 'acme', sha256: sha256('k') }]));
    expect((await readTenantKeys(path)).tenantOf('k')).toBe('acme');
    await expect(readTenantKeys(join(dir, 'missing.json'))).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
    });
  });
});
