import { readFile } from 'node:fs/promises';
import { ModelRegistryService } from '@understudy/contracts';
import { createClient } from '@understudy/grpc';
import type { RegistryClient } from './command.js';
import { UsageError } from './failure.js';
import type { Connection } from './globals.js';

/** A client of the registry with the credentials the command line names. */
export async function connect(connection: Connection): Promise<RegistryClient> {
  const token =
    connection.tokenFile === undefined ? undefined : await readToken(connection.tokenFile);
  const tls = connection.tls;
  return createClient(ModelRegistryService, connection.address, {
    ...(tls !== undefined && {
      tls: {
        ...(tls.ca !== undefined && { ca: await read('--tls-ca', tls.ca) }),
        ...(tls.cert !== undefined && { cert: await read('--tls-cert', tls.cert) }),
        ...(tls.key !== undefined && { key: await read('--tls-key', tls.key) }),
      },
    }),
    ...(token !== undefined && { metadata: { authorization: `Bearer ${token}` } }),
  });
}

/** The token itself never appears in a message: only the file it came from. */
async function readToken(path: string): Promise<string> {
  const token = (await read('token file', path)).toString('utf8').trim();
  if (token === '') throw new UsageError(`token file ${path} is empty`);
  return token;
}

async function read(what: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw new UsageError(`cannot read ${what} ${path}: ${reason}`);
  }
}
