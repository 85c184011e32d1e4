/**
 * Principals files (UNDERSTUDY_REGISTRY_PRINCIPALS_FILE) for the registries that tests and
 * benchmarks start. Benchmarks load this file with plain Node, so its only relative import is
 * one that type stripping erases.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { RoleName } from '../auth/caller.js';

/** An entry of a test registry's principals file, with its token in clear for the test. */
export interface TestPrincipal {
  readonly subject: string;
  readonly token?: string;
  readonly certSubject?: string;
  readonly roles: readonly RoleName[];
  readonly tenants: readonly string[];
}

/** A token as the tests' callers present it: random, so that no two test runs share one. */
export function testToken(name: string): string {
  return `${name}-${randomBytes(12).toString('hex')}`;
}

/** Writes `principals` to `path` as the registry reads them: tokens only as their SHA-256. */
export async function writePrincipalsFile(
  path: string,
  principals: readonly TestPrincipal[],
): Promise<void> {
  await writeFile(path, JSON.stringify(principals.map(principalsEntry)));
}

function principalsEntry({ token, ...entry }: TestPrincipal) {
  return {
    ...entry,
    ...(token !== undefined && { tokenSha256: createHash('sha256').update(token).digest('hex') }),
  };
}
