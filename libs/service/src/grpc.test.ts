import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Environment } from '@understudy/config';
import { Health, HealthCheckResponse_ServingStatus as Status } from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { createClient, GrpcServer } from '@understudy/grpc';
import { testAuthority, type TestAuthority } from '@understudy/grpc/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcClientOptions, grpcServerOptions } from './grpc.js';
import { grpcClientSettings, grpcSettings } from './settings.js';

let dir: string;
let authority: TestAuthority;
/** Paths of the PEM files written for the tests. */
const files = { ca: '', serverCert: '', serverKey: '', clientCert: '', clientKey: '' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'service-grpc-'));
  authority = await testAuthority();
  const server = await authority.server();
  const client = await authority.client({ commonName: 'dataset-builder' });
  const contents = {
    ca: authority.ca,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
  };
  for (const [name, content] of Object.entries(contents)) {
    const path = join(dir, `${name}.pem`);
    await writeFile(path, content);
    files[name as keyof typeof files] = path;
  }
});

afterAll(async () => {
  await authority.dispose();
  await rm(dir, { recursive: true, force: true });
});

const serverOptions = (env: Environment) => grpcServerOptions(loadConfig(grpcSettings, env));
const registrySettings = grpcClientSettings('UNDERSTUDY_REGISTRY');
const clientOptions = (env: Environment) =>
  grpcClientOptions(
    registrySettings,
    loadConfig(registrySettings, { UNDERSTUDY_REGISTRY_ADDRESS: 'registry:50051', ...env }),
  );

describe('grpcServerOptions', () => {
  it('serves plaintext without TLS files', async () => {
    expect(await serverOptions({ UNDERSTUDY_GRPC_PORT: '7000' })).toEqual({
      host: '0.0.0.0',
      port: 7000,
    });
  });

  it('reads the certificate, key and client CA', async () => {
    const { tls } = await serverOptions({
      UNDERSTUDY_GRPC_TLS_CERT_FILE: files.serverCert,
      UNDERSTUDY_GRPC_TLS_KEY_FILE: files.serverKey,
      UNDERSTUDY_GRPC_TLS_CLIENT_CA_FILE: files.ca,
    });
    expect(tls?.clientCa?.equals(authority.ca)).toBe(true);
    expect(tls?.cert.toString()).toContain('BEGIN CERTIFICATE');
  });

  it('refuses a certificate without its key, and names a file it cannot read', async () => {
    await expect(
      serverOptions({ UNDERSTUDY_GRPC_TLS_CLIENT_CA_FILE: files.ca }),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      details: {
        variables: [
          'UNDERSTUDY_GRPC_TLS_CERT_FILE',
          'UNDERSTUDY_GRPC_TLS_KEY_FILE',
          'UNDERSTUDY_GRPC_TLS_CLIENT_CA_FILE',
        ],
      },
    });
    await expect(
      serverOptions({
        UNDERSTUDY_GRPC_TLS_CERT_FILE: join(dir, 'missing.pem'),
        UNDERSTUDY_GRPC_TLS_KEY_FILE: files.serverKey,
      }),
    ).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringContaining('missing.pem') as unknown,
    });
  });
});

describe('grpcClientOptions', () => {
  it('sends the token of the token file as a bearer token', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'tok-123\n');
    expect(await clientOptions({ UNDERSTUDY_REGISTRY_TOKEN_FILE: tokenFile })).toEqual({
      metadata: { authorization: 'Bearer tok-123' },
    });
    expect(await clientOptions({})).toEqual({});
  });

  it('refuses a token file without exactly one token, never echoing it', async () => {
    const tokenFile = join(dir, 'two-tokens');
    await writeFile(tokenFile, 'secret-a secret-b');
    const refused = clientOptions({ UNDERSTUDY_REGISTRY_TOKEN_FILE: tokenFile });
    await expect(refused).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      details: { variables: ['UNDERSTUDY_REGISTRY_TOKEN_FILE'] },
    });
    await expect(refused).rejects.not.toThrow(/secret-a/);
  });

  it('refuses a client certificate without the CA to verify the server', async () => {
    await expect(
      clientOptions({
        UNDERSTUDY_REGISTRY_TLS_CERT_FILE: files.clientCert,
        UNDERSTUDY_REGISTRY_TLS_KEY_FILE: files.clientKey,
      }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });

  it('calls a mutual TLS server configured by the same conventions', async () => {
    const server = new GrpcServer({
      ...(await serverOptions({
        UNDERSTUDY_GRPC_HOST: '127.0.0.1',
        UNDERSTUDY_GRPC_PORT: '0',
        UNDERSTUDY_GRPC_TLS_CERT_FILE: files.serverCert,
        UNDERSTUDY_GRPC_TLS_KEY_FILE: files.serverKey,
        UNDERSTUDY_GRPC_TLS_CLIENT_CA_FILE: files.ca,
      })),
    });
    const port = await server.start();
    const health = createClient(Health, `localhost:${String(port)}`, {
      ...(await clientOptions({
        UNDERSTUDY_REGISTRY_TLS_CA_FILE: files.ca,
        UNDERSTUDY_REGISTRY_TLS_CERT_FILE: files.clientCert,
        UNDERSTUDY_REGISTRY_TLS_KEY_FILE: files.clientKey,
      })),
    });
    try {
      expect((await health.check({ service: '' })).status).toBe(Status.SERVING);
    } finally {
      health.close();
      await server.shutdown();
    }
  });
});
