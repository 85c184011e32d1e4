import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { ContentKeyring, readContentKeys } from './content-keys.js';

const newKey = () => randomBytes(32).toString('base64');

/** The validation message of a keys file, which must never contain a key. */
function problemsOf(entries: unknown): string {
  const json = JSON.stringify(entries);
  try {
    ContentKeyring.parse(json, 'keys.json');
  } catch (error) {
    const message = (error as Error).message;
    for (const key of json.match(/[A-Za-z0-9+/]{20,}={0,2}/g) ?? []) {
      expect(message).not.toContain(key);
    }
    expect(error).toMatchObject({ code: ErrorCode.InvalidArgument });
    return message;
  }
  throw new Error('the file was accepted');
}

describe('ContentKeyring', () => {
  it('finds the active key of a tenant and every key by id', () => {
    const [old, current, other] = [newKey(), newKey(), newKey()];
    const keyring = ContentKeyring.parse(
      JSON.stringify([
        { tenant: 'acme', keyId: 'acme-2025', key: old },
        { tenant: 'acme', keyId: 'acme-2026', key: current, active: true },
        { tenant: 'globex', keyId: 'globex-1', key: other, active: true },
      ]),
      'keys.json',
    );
    expect(keyring.activeKey('acme')).toMatchObject({ keyId: 'acme-2026', active: true });
    expect(keyring.activeKey('globex')?.keyId).toBe('globex-1');
    expect(keyring.activeKey('initech')).toBeUndefined();
    expect(keyring.key('acme-2025')).toMatchObject({ tenant: 'acme', active: false });
    expect(keyring.key('acme-2025')?.key.export().toString('base64')).toBe(old);
    expect(keyring.key('nope')).toBeUndefined();
  });

  it('never shows key bytes when serialized or inspected', () => {
    const key = newKey();
    const keyring = ContentKeyring.parse(
      JSON.stringify([{ tenant: 'acme', keyId: 'k1', key, active: true }]),
      'keys.json',
    );
    const hex = Buffer.from(key, 'base64').toString('hex');
    for (const shown of [JSON.stringify(keyring), inspect(keyring, { depth: 10 })]) {
      expect(shown).not.toContain(key);
      expect(shown).not.toContain(hex);
    }
  });

  it('rejects malformed entries field by field', () => {
    expect(() => ContentKeyring.parse('{"tenant": "acme", "key": "c2VjcmV0', 'k.json')).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, message: 'k.json is not JSON' }),
    );
    expect(problemsOf([])).toBe('keys.json is not a content keys file: (root): lists no keys');
    const short = randomBytes(16).toString('base64');
    const message = problemsOf([
      { tenant: 'acme', keyId: 'k1', key: short, active: true },
      { tenant: 'acme', keyId: 'bad id', key: newKey(), active: 'yes' },
      { tenant: 'acme', keyId: 'k3', key: newKey(), owner: 'ops' },
    ]);
    expect(message).toContain('0.key: must be the base64 of 32 bytes');
    expect(message).toContain('1.keyId: must be 1 to 128 letters');
    expect(message).toContain('1.active: Invalid input: expected boolean');
    expect(message).toMatch(/2: Unrecognized key: "owner"/);
  });

  it('rejects duplicate ids, a reused key, two active keys and a tenant without one', () => {
    // A key ending in "A=" has spare bits: "B=" spells the same 32 bytes.
    const key = `${newKey().slice(0, 42)}A=`;
    const respelt = `${key.slice(0, 42)}B=`;
    const message = problemsOf([
      { tenant: 'acme', keyId: 'k1', key, active: true },
      { tenant: 'acme', keyId: 'k2', key: newKey(), active: true },
      { tenant: 'globex', keyId: 'k1', key: newKey(), active: true },
      { tenant: 'initech', keyId: 'k4', key: respelt },
    ]);
    expect(message.split('; ')).toEqual([
      'keys.json is not a content keys file: 1.active: tenant "acme" already has its active key in entry 0',
      '2.keyId: "k1" is also the id of entry 0',
      '3.key: is the same key as entry 0',
      '(root): tenant "initech" has no key with "active": true',
    ]);
  });
});

describe('readContentKeys', () => {
  it('reads a mounted file and reports a missing one as a precondition', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'content-keys-'));
    const path = join(dir, 'content-keys.json');
    await writeFile(
      path,
      JSON.stringify([{ tenant: 'acme', keyId: 'k1', key: newKey(), active: true }]),
    );
    expect((await readContentKeys(path)).activeKey('acme')?.keyId).toBe('k1');
    await expect(readContentKeys(join(dir, 'missing.json'))).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: `cannot read content keys ${join(dir, 'missing.json')}`,
    });
  });
});
