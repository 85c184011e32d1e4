import { readFile } from 'node:fs/promises';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { TenantKeys } from '../domain/tenant-keys.js';

/** Reads the tenant keys file mounted from a Secret (UNDERSTUDY_TENANT_KEYS_FILE). */
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
