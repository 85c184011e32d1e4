import type { PeerCertificate } from 'node:tls';
import { parseJsonFile, z } from '@understudy/config';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { DigestMatcher, readMountedFile, sha256Hex } from '@understudy/tenancy';
import { allTenants, RegistryCaller, roleNames } from './caller.js';

const principalsFile = z.array(
  // Strict: a misspelt key (`token`, `role`) would otherwise be dropped and the entry mean less.
  z
    .strictObject({
      subject: z.string().min(1),
      /** SHA-256 (hex) of the bearer token; the token itself is never written anywhere. */
      tokenSha256: sha256Hex().optional(),
      /** The client certificate's URI SAN (e.g. a SPIFFE id), or its CN if it has none. */
      certSubject: z.string().min(1).optional(),
      roles: z.array(z.enum(roleNames)).min(1),
      tenants: z
        .array(z.string().min(1))
        .min(1)
        .refine(
          (tenants) => !tenants.includes(allTenants) || tenants.length === 1,
          `"${allTenants}" stands alone`,
        ),
    })
    .refine((entry) => entry.tokenSha256 !== undefined || entry.certSubject !== undefined, {
      message: 'needs tokenSha256 or certSubject',
    }),
);

type Entry = z.infer<typeof principalsFile>[number];

/**
 * Who may call the registry (`UNDERSTUDY_REGISTRY_PRINCIPALS_FILE`): callers by the digest of
 * their bearer token, matched in constant time, or by their client certificate under mutual TLS.
 */
export class Principals {
  private constructor(
    private readonly tokens: DigestMatcher<RegistryCaller>,
    private readonly certificates: ReadonlyMap<string, RegistryCaller>,
  ) {}

  /**
   * Parses `[{ "subject", "tokenSha256"?, "certSubject"?, "roles": [...], "tenants": [...] }]`;
   * `source` names it in errors, which never echo its content.
   */
  static parse(json: string, source: string): Principals {
    const entries = parseJsonFile(json, source, principalsFile, 'a principals file');
    refuseDuplicates(entries, source);
    const callers = entries.map(
      (entry) => [entry, new RegistryCaller(entry.subject, entry.roles, entry.tenants)] as const,
    );
    return new Principals(
      new DigestMatcher(
        callers.flatMap(([{ tokenSha256 }, caller]) =>
          tokenSha256 === undefined ? [] : [[tokenSha256, caller] as const],
        ),
      ),
      new Map(
        callers.flatMap(([{ certSubject }, caller]) =>
          certSubject === undefined ? [] : [[certSubject, caller] as const],
        ),
      ),
    );
  }

  /** The caller holding this bearer token, or undefined. */
  byToken(token: string): RegistryCaller | undefined {
    return this.tokens.match(token);
  }

  /** The caller this verified client certificate names, or undefined. */
  byCertificate(certificate: PeerCertificate): RegistryCaller | undefined {
    return this.certificates.get(certificateSubject(certificate));
  }
}

/** Who a certificate names: its URI SAN (a SPIFFE id, one per certificate), else its CN. */
export function certificateSubject(certificate: PeerCertificate): string {
  const uris = (certificate.subjectaltname ?? '')
    .split(', ')
    .filter((name) => name.startsWith('URI:'))
    .map((name) => name.slice('URI:'.length));
  const [uri] = uris;
  if (uri !== undefined) return uri;
  // Several CNs name no one in particular.
  const cn = certificate.subject.CN;
  return typeof cn === 'string' ? cn : '';
}

/** Two entries with one subject, token or certificate would make a caller ambiguous. */
function refuseDuplicates(entries: readonly Entry[], source: string): void {
  const duplicates = new Set<string>();
  const seen = new Set<string>();
  const check = (kind: string, value: string | undefined) => {
    if (value === undefined) return;
    // Digests in either case of hex are one token, and the token is not for the error.
    const key = kind === 'tokenSha256' ? `${kind} ${value.toLowerCase()}` : `${kind} ${value}`;
    if (seen.has(key)) duplicates.add(kind === 'tokenSha256' ? kind : key);
    seen.add(key);
  };
  entries.forEach((entry) => {
    check('subject', entry.subject);
    check('tokenSha256', entry.tokenSha256);
    check('certSubject', entry.certSubject);
  });
  if (duplicates.size > 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `${source} names more than one principal by ${[...duplicates].join('; ')}`,
    );
  }
}

/** Reads the principals file mounted from a Secret. */
export async function readPrincipals(path: string): Promise<Principals> {
  return Principals.parse(await readMountedFile(path, 'principals file'), path);
}
