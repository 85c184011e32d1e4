import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A PEM certificate chain and its private key. */
export interface KeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** What a leaf certificate says about its holder. */
export interface Holder {
  /** The subject's common name. */
  readonly commonName: string;
  /** A URI subject alternative name, e.g. a SPIFFE id. */
  readonly uri?: string;
}

/** A throw-away certificate authority for TLS tests, made with the machine's `openssl`. */
export interface TestAuthority {
  /** The CA's certificate (PEM), for `clientCa` on servers and `ca` on clients. */
  readonly ca: Buffer;
  /** A server certificate for `localhost` and 127.0.0.1. */
  server(): Promise<KeyPair>;
  /** A client certificate for mutual TLS. */
  client(holder: Holder): Promise<KeyPair>;
  /** Removes the working directory. */
  dispose(): Promise<void>;
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A new CA, valid for a day, that signs server and client certificates on demand. */
export async function testAuthority(): Promise<TestAuthority> {
  const dir = await mkdtemp(join(tmpdir(), 'understudy-pki-'));
  const at = (name: string) => join(dir, name);
  await run('openssl', [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=understudy test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  ]);
  let serial = 0;
  const issue = async (commonName: string, extensions: string[]): Promise<KeyPair> => {
    const name = `leaf-${String(++serial)}`;
    await writeFile(at(`${name}.ext`), `${extensions.join('\n')}\n`);
    await run('openssl', [
      'req',
      '-new',
      ...ecKey,
      '-keyout',
      at(`${name}.key`),
      '-out',
      at(`${name}.csr`),
      '-subj',
      `/CN=${commonName}`,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      at(`${name}.csr`),
      '-CA',
      at('ca.crt'),
      '-CAkey',
      at('ca.key'),
      '-set_serial',
      String(serial),
      '-days',
      '1',
      '-out',
      at(`${name}.crt`),
      '-extfile',
      at(`${name}.ext`),
    ]);
    return { cert: await readFile(at(`${name}.crt`)), key: await readFile(at(`${name}.key`)) };
  };
  return {
    ca: await readFile(at('ca.crt')),
    server: () =>
      issue('localhost', [
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        'extendedKeyUsage=serverAuth',
      ]),
    client: ({ commonName, uri }) =>
      issue(commonName, [
        ...(uri === undefined ? [] : [`subjectAltName=URI:${uri}`]),
        'extendedKeyUsage=clientAuth',
      ]),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
