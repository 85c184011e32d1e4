import { createHash } from 'node:crypto';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { TenantKeys } from './tenant-keys.js';

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

describe('TenantKeys', () => {
  const keys = TenantKeys.parse(
    JSON.stringify([
      { tenant: 'acme', sha256: sha256('sk-acme') },
      { tenant: 'globex', sha256: sha256('sk-globex').toUpperCase() },
    ]),
  );

  it('finds the tenant of a known key and nobody for others', () => {
    expect(keys.tenantOf('sk-acme')).toBe('acme');
    expect(keys.tenantOf('sk-globex')).toBe('globex');
    expect(keys.tenantOf('sk-other')).toBeUndefined();
    expect(keys.tenantOf('')).toBeUndefined();
  });

  it('rejects malformed files, naming the problem', () => {
    expect(() => TenantKeys.parse('nope')).toThrow(/not JSON/);
    expect(() => TenantKeys.parse('{}')).toThrow(/expected an array/);
    expect(() => TenantKeys.parse('[{"tenant":"a","sha256":"abc"}]')).toThrow(/64 hex digits/);
    expect(() => TenantKeys.parse(`[{"sha256":"${sha256('x')}"}]`)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
  });
});
