import { Health, HealthCheckResponse_ServingStatus as Status } from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ClientOptions } from './client.js';
import type { GrpcServer, GrpcTls } from './server.js';
import type { Authenticate, Peer } from './service-impl.js';
import { Echo } from './testing/echo.js';
import { echoImpl, rejection, startServer } from './testing/harness.js';
import { testAuthority, type KeyPair, type TestAuthority } from './testing.js';

let authority: TestAuthority;
let serverPair: KeyPair;
let server: GrpcServer | undefined;
const clients: { close(): void }[] = [];

beforeAll(async () => {
  authority = await testAuthority();
  serverPair = await authority.server();
});

afterAll(async () => {
  await authority.dispose();
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server?.shutdown();
  server = undefined;
});

/** Echo over TLS; `peers` collects what `authenticate` was told of each caller. */
async function serveEcho(tls: GrpcTls, peers: Peer[] = []): Promise<string> {
  const authenticate: Authenticate = (_metadata, _method, peer) => {
    peers.push(peer);
    return { subject: String(peer.certificate?.subject.CN ?? 'anonymous') };
  };
  const started = await startServer((s) => s.register(Echo, echoImpl), { tls, authenticate });
  server = started.server;
  // The certificate names localhost, not the loopback address.
  return `localhost:${String(server.port)}`;
}

function echoAt(address: string, options: ClientOptions) {
  const client = createClient(Echo, address, { timeoutMs: 5_000, ...options });
  clients.push(client);
  return client;
}

describe('TLS', () => {
  it('serves clients that trust its CA, and no plaintext or untrusting ones', async () => {
    const address = await serveEcho({ cert: serverPair.cert, key: serverPair.key });

    const trusting = echoAt(address, { tls: { ca: authority.ca } });
    expect((await trusting.say({ value: 'over tls' })).value).toBe('over tls');

    const plaintext = echoAt(address, {});
    expect(await rejection(plaintext.say({ value: 'x' }))).toMatchObject({
      code: ErrorCode.Unavailable,
    });
    // The system's roots do not include the test CA.
    const untrusting = echoAt(address, { tls: {} });
    expect(await rejection(untrusting.say({ value: 'x' }))).toMatchObject({
      code: ErrorCode.Unavailable,
    });
  });

  it('tells authenticate of no certificate without mutual TLS', async () => {
    const peers: Peer[] = [];
    const address = await serveEcho({ cert: serverPair.cert, key: serverPair.key }, peers);
    const client = echoAt(address, { tls: { ca: authority.ca } });
    await client.say({ value: 'x' });
    expect(peers).toEqual([{}]);
  });

  it('answers health over TLS too', async () => {
    const address = await serveEcho({ cert: serverPair.cert, key: serverPair.key });
    const health = createClient(Health, address, { tls: { ca: authority.ca } });
    clients.push(health);
    expect((await health.check({ service: '' })).status).toBe(Status.SERVING);
  });
});

describe('mutual TLS', () => {
  it("hands authenticate the caller's verified certificate", async () => {
    const peers: Peer[] = [];
    const address = await serveEcho(
      { cert: serverPair.cert, key: serverPair.key, clientCa: authority.ca },
      peers,
    );
    const pair = await authority.client({
      commonName: 'trainer-orchestrator',
      uri: 'spiffe://understudy.test/ns/understudy/sa/trainer-orchestrator',
    });
    const client = echoAt(address, { tls: { ca: authority.ca, ...pair } });
    expect((await client.say({ value: 'mtls' })).value).toBe('mtls');
    expect(peers).toHaveLength(1);
    expect(peers[0]?.certificate?.subject.CN).toBe('trainer-orchestrator');
    expect(peers[0]?.certificate?.subjectaltname).toBe(
      'URI:spiffe://understudy.test/ns/understudy/sa/trainer-orchestrator',
    );
  });

  it('refuses callers without a certificate, or with one from another CA', async () => {
    const address = await serveEcho({
      cert: serverPair.cert,
      key: serverPair.key,
      clientCa: authority.ca,
    });
    const without = echoAt(address, { tls: { ca: authority.ca } });
    expect(await rejection(without.say({ value: 'x' }))).toMatchObject({
      code: ErrorCode.Unavailable,
    });

    const stranger = await testAuthority();
    try {
      const foreign = await stranger.client({ commonName: 'intruder' });
      const client = echoAt(address, { tls: { ca: authority.ca, ...foreign } });
      expect(await rejection(client.say({ value: 'x' }))).toMatchObject({
        code: ErrorCode.Unavailable,
      });
    } finally {
      await stranger.dispose();
    }
  });
});

describe('client TLS options', () => {
  it('refuses a certificate without its key, or tls beside credentials', () => {
    expect(() => createClient(Echo, 'localhost:1', { tls: { cert: serverPair.cert } })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
  });
});

describe('server TLS options', () => {
  it('refuses to start with files that are not a matching certificate and key', async () => {
    const other = await authority.server();
    for (const tls of [
      { cert: Buffer.from('not a certificate'), key: serverPair.key },
      { cert: serverPair.cert, key: other.key },
    ]) {
      const refused = startServer((s) => s.register(Echo, echoImpl), { tls });
      await expect(refused).rejects.toMatchObject({
        code: ErrorCode.InvalidArgument,
        message: 'the TLS certificate, key or client CA is not usable',
      });
    }
  });
});
