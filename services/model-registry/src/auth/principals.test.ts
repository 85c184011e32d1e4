import { createHash, X509Certificate } from 'node:crypto';
import { AccessRole } from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { testAuthority, type TestAuthority } from '@understudy/grpc/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSubject, Principals } from './principals.js';

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');
const parse = (entries: unknown) => Principals.parse(JSON.stringify(entries), 'principals.json');

let authority: TestAuthority;

beforeAll(async () => {
  authority = await testAuthority();
});

afterAll(async () => {
  await authority.dispose();
});

/** A real client certificate, as grpc-js hands it to `authenticate`. */
async function certificateOf(holder: { commonName: string; uri?: string }) {
  const { cert } = await authority.client(holder);
  return new X509Certificate(cert).toLegacyObject();
}

describe('Principals', () => {
  const principals = parse([
    { subject: 'ops', tokenSha256: sha256('tok-ops'), roles: ['admin'], tenants: ['*'] },
    {
      subject: 'acme-ci',
      tokenSha256: sha256('tok-acme').toUpperCase(),
      roles: ['reader', 'writer'],
      tenants: ['acme'],
    },
    {
      subject: 'trainer-orchestrator',
      certSubject: 'spiffe://understudy.test/sa/trainer-orchestrator',
      roles: ['writer'],
      tenants: ['*'],
    },
    { subject: 'alice', certSubject: 'alice', roles: ['approver'], tenants: ['acme', 'globex'] },
  ]);

  it('finds callers by token digest, with their highest role and their tenants', () => {
    const ops = principals.byToken('tok-ops');
    expect(ops).toMatchObject({ subject: 'ops', role: AccessRole.ADMIN, actsForAllTenants: true });
    expect(ops?.tenantId).toBeUndefined();
    const ci = principals.byToken('tok-acme');
    expect(ci).toMatchObject({ subject: 'acme-ci', role: AccessRole.WRITER, tenantId: 'acme' });
    expect(ci?.actsFor('acme')).toBe(true);
    expect(ci?.actsFor('globex')).toBe(false);
    expect(ci?.holds(AccessRole.READER)).toBe(true);
    expect(ci?.holds(AccessRole.APPROVER)).toBe(false);
    expect(ci?.holds(AccessRole.UNSPECIFIED)).toBe(false);
    expect(principals.byToken('tok-unknown')).toBeUndefined();
  });

  it('finds callers by the URI SAN of their certificate, else its CN', async () => {
    const trainer = await certificateOf({
      commonName: 'ignored-when-a-uri-is-there',
      uri: 'spiffe://understudy.test/sa/trainer-orchestrator',
    });
    expect(certificateSubject(trainer)).toBe('spiffe://understudy.test/sa/trainer-orchestrator');
    expect(principals.byCertificate(trainer)?.subject).toBe('trainer-orchestrator');

    const alice = await certificateOf({ commonName: 'alice' });
    expect(principals.byCertificate(alice)).toMatchObject({
      subject: 'alice',
      tenants: ['acme', 'globex'],
    });
    // A URI SAN wins over the CN: this certificate names someone else than alice.
    const other = await certificateOf({ commonName: 'alice', uri: 'spiffe://elsewhere/alice' });
    expect(principals.byCertificate(other)).toBeUndefined();
  });

  it('names the file and the bad entries, never echoing a value', () => {
    expect(() => Principals.parse('{nope', '/etc/p.json')).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidArgument,
        message: '/etc/p.json is not JSON',
      }),
    );
    const refused = (entries: unknown) => () => parse(entries);
    expect(refused([{ subject: 'a', roles: ['reader'], tenants: ['acme'] }])).toThrow(
      /principals\.json is not a principals file: 0: needs tokenSha256 or certSubject/,
    );
    expect(
      refused([{ subject: 'a', tokenSha256: 'secret-token', roles: ['root'], tenants: [] }]),
    ).toThrow(/0\.tokenSha256: must be 64 hex digits; 0\.roles\.0: .*; 0\.tenants: /);
    expect(
      refused([{ subject: 'a', tokenSha256: 'secret-token', roles: ['root'], tenants: [] }]),
    ).not.toThrow(/secret-token/);
    expect(
      refused([{ subject: 'a', certSubject: 'a', roles: ['reader'], tenants: ['*', 'acme'] }]),
    ).toThrow(/0\.tenants: "\*" stands alone/);
    expect(
      refused([{ subject: 'a', certSubject: 'a', token: 'x', roles: ['reader'], tenants: ['*'] }]),
    ).toThrow(/0: Unrecognized key: "token"/);
  });

  it('refuses entries that would make a caller ambiguous', () => {
    const entry = (subject: string, token: string) => ({
      subject,
      tokenSha256: sha256(token),
      roles: ['reader'],
      tenants: ['acme'],
    });
    expect(() => parse([entry('a', 'same'), entry('b', 'same')])).toThrow(
      'principals.json names more than one principal by tokenSha256',
    );
    expect(() => parse([entry('a', 'one'), entry('a', 'two')])).toThrow(
      'principals.json names more than one principal by subject a',
    );
  });
});
