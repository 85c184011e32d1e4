import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from '@bufbuild/protobuf';
import { ModelRegistryService } from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import {
  createClient,
  GrpcServer,
  type CallContext,
  type Client,
  type ServiceImpl,
} from '@understudy/grpc';
import { testAuthority, type KeyPair, type TestAuthority } from '@understudy/grpc/testing';
import { silentLogger, type Logger } from '@understudy/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryAccess } from './access.js';

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

/** Callers by the token they present. */
const tokens = {
  reader: 'tok-reader',
  acmeWriter: 'tok-acme-writer',
  twoTenants: 'tok-two-tenants',
  router: 'tok-router',
} as const;

const principals = [
  { subject: 'reader', tokenSha256: sha256(tokens.reader), roles: ['reader'], tenants: ['*'] },
  {
    subject: 'acme-writer',
    tokenSha256: sha256(tokens.acmeWriter),
    roles: ['writer'],
    tenants: ['acme'],
  },
  {
    subject: 'two-tenants',
    tokenSha256: sha256(tokens.twoTenants),
    roles: ['approver'],
    tenants: ['acme', 'globex'],
  },
  { subject: 'router', tokenSha256: sha256(tokens.router), roles: ['reader'], tenants: ['*'] },
  { subject: 'cert-writer', certSubject: 'spiffe://t/writer', roles: ['writer'], tenants: ['*'] },
];

interface Seen {
  readonly method: string;
  readonly request: Message;
  readonly subject: string | undefined;
}

/** A watch that ends at once. */
async function* noChanges(): AsyncGenerator<never> {}

/** Every registry RPC answers an empty response, recording the request its handler got. */
function recordingRegistry(seen: Seen[]): ServiceImpl<typeof ModelRegistryService> {
  const record = (method: string, request: Message, ctx: CallContext) => {
    seen.push({ method, request, subject: ctx.principal?.subject });
  };
  return Object.fromEntries(
    ModelRegistryService.methods.map((m) => [
      m.localName,
      m.methodKind === 'server_streaming'
        ? (request: Message, ctx: CallContext) => {
            record(m.name, request, ctx);
            return noChanges();
          }
        : (request: Message, ctx: CallContext) => {
            record(m.name, request, ctx);
            return {};
          },
    ]),
  ) as unknown as ServiceImpl<typeof ModelRegistryService>;
}

let dir: string;
let principalsFile: string;
let authority: TestAuthority;
let server: GrpcServer;
let address: string;
/**
 * The server takes mutual TLS: everyone presents a certificate. This one names no principal, so
 * its holders are who their token says.
 */
let anonymous: KeyPair;
const seen: Seen[] = [];
const clients: Client<typeof ModelRegistryService>[] = [];

function registryAs(token: string | undefined, certificate: KeyPair = anonymous) {
  const client = createClient(ModelRegistryService, address, {
    ...(token !== undefined && { metadata: { authorization: `Bearer ${token}` } }),
    tls: { ca: authority.ca, ...certificate },
  });
  clients.push(client);
  return client;
}

/** What the handler of the last call got. */
const lastSeen = () => seen.at(-1);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'registry-access-'));
  principalsFile = join(dir, 'principals.json');
  await writeFile(principalsFile, JSON.stringify(principals));
  authority = await testAuthority();
  const pair = await authority.server();
  server = new GrpcServer({
    host: '127.0.0.1',
    port: 0,
    tls: { ...pair, clientCa: authority.ca },
    ...(await registryAccess({ auth: 'on', principalsFile }, silentLogger)),
  }).register(ModelRegistryService, recordingRegistry(seen));
  address = `localhost:${String(await server.start())}`;
  anonymous = await authority.client({ commonName: 'nobody-in-particular' });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server.shutdown();
  await authority.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('registry authentication', () => {
  it('refuses a call without credentials, or with unknown ones, before its handler', async () => {
    const before = seen.length;
    await expect(registryAs(undefined).getModelVersion({ tenantId: 'acme' })).rejects.toMatchObject(
      { code: ErrorCode.Unauthenticated, message: 'the client certificate names no principal' },
    );
    const unknown = registryAs('tok-unknown');
    await expect(unknown.getModelVersion({ tenantId: 'acme' })).rejects.toMatchObject({
      code: ErrorCode.Unauthenticated,
      message: 'the bearer token is not known',
    });
    expect(seen.length).toBe(before);
  });

  it('maps the subject of a client certificate to its principal', async () => {
    const pair = await authority.client({ commonName: 'writer', uri: 'spiffe://t/writer' });
    const client = registryAs(undefined, pair);
    await client.getDataset({ tenantId: 'acme', datasetId: 'd-1' });
    expect(lastSeen()).toMatchObject({ method: 'GetDataset', subject: 'cert-writer' });
  });

  it('lets a caller call the methods its role reaches, and no others', async () => {
    const reader = registryAs(tokens.reader);
    await reader.getModelVersion({ tenantId: 'acme', modelVersionId: 'mv-1' });
    expect(lastSeen()).toMatchObject({ method: 'GetModelVersion', subject: 'reader' });
    await expect(
      reader.promoteModelVersion({ tenantId: 'acme', modelVersionId: 'mv-1' }),
    ).rejects.toMatchObject({
      code: ErrorCode.PermissionDenied,
      message: 'PromoteModelVersion needs the writer role',
    });
    const approver = registryAs(tokens.twoTenants);
    await approver.approveModelVersion({ tenantId: 'globex', modelVersionId: 'mv-1' });
    await expect(
      approver.updatePromotionPolicy({ policy: { tenantId: 'globex' } }),
    ).rejects.toMatchObject({
      code: ErrorCode.PermissionDenied,
      message: 'UpdatePromotionPolicy needs the admin role',
    });
  });
});

describe('registry tenant scope', () => {
  let acme: Client<typeof ModelRegistryService>;
  let twoTenants: Client<typeof ModelRegistryService>;
  let router: Client<typeof ModelRegistryService>;

  beforeAll(() => {
    acme = registryAs(tokens.acmeWriter);
    twoTenants = registryAs(tokens.twoTenants);
    router = registryAs(tokens.router);
  });

  it("refuses a tenant outside the caller's, at the top or in the resource carried", async () => {
    const before = seen.length;
    const denied = { code: ErrorCode.PermissionDenied };
    await expect(acme.getModelVersion({ tenantId: 'globex' })).rejects.toMatchObject({
      ...denied,
      message: 'acme-writer may not act for tenant globex',
    });
    await expect(
      acme.createDataset({ requestId: 'r', dataset: { tenantId: 'globex' } }),
    ).rejects.toMatchObject(denied);
    await expect(
      acme.registerModelVersion({ modelVersion: { tenantId: 'globex' } }),
    ).rejects.toMatchObject(denied);
    await expect(collect(acme.watchRoutingTable({ tenantId: 'globex' }))).rejects.toMatchObject(
      denied,
    );
    expect(seen.length).toBe(before);
  });

  it('fills in the tenant of a caller acting for one', async () => {
    await acme.getModelVersion({ modelVersionId: 'mv-1' });
    expect(lastSeen()?.request).toMatchObject({ tenantId: 'acme', modelVersionId: 'mv-1' });
    await acme.createDataset({ requestId: 'r', dataset: { datasetId: 'd-1' } });
    expect(lastSeen()?.request).toMatchObject({ dataset: { tenantId: 'acme', datasetId: 'd-1' } });
    await collect(acme.watchRoutingTable({}));
    expect(lastSeen()).toMatchObject({
      method: 'WatchRoutingTable',
      request: { tenantId: 'acme' },
    });
    // A missing resource stays missing, for its handler to refuse.
    await acme.createDataset({ requestId: 'r' });
    expect(lastSeen()?.request).toMatchObject({ requestId: 'r' });
  });

  it('needs every tenant (*) for a request that names none', async () => {
    await expect(twoTenants.getRoutingTable({})).rejects.toMatchObject({
      code: ErrorCode.PermissionDenied,
      message: 'two-tenants acts for several tenants: name one in tenant_id',
    });
    await twoTenants.getRoutingTable({ tenantId: 'globex' });
    expect(lastSeen()?.request).toMatchObject({ tenantId: 'globex' });

    await router.getRoutingTable({});
    expect(lastSeen()).toMatchObject({ method: 'GetRoutingTable', request: { tenantId: '' } });
    await router.getRoutingTable({ tenantId: 'anyone' });
    expect(lastSeen()?.request).toMatchObject({ tenantId: 'anyone' });
  });
});

describe('registryAccess', () => {
  function recordingLogger(warnings: string[]): Logger {
    const logger: Logger = {
      ...silentLogger,
      warn: (_fields: object, message?: string) => {
        warnings.push(message ?? '');
      },
      child: () => logger,
    };
    return logger;
  }

  it('refuses to start without a principals file unless told that auth is off', async () => {
    await expect(
      registryAccess({ auth: 'on', principalsFile: undefined }, silentLogger),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      details: { variables: ['UNDERSTUDY_REGISTRY_PRINCIPALS_FILE'] },
    });
    await expect(
      registryAccess({ auth: 'off', principalsFile }, silentLogger),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      details: { variables: ['UNDERSTUDY_REGISTRY_PRINCIPALS_FILE', 'UNDERSTUDY_REGISTRY_AUTH'] },
    });
    await expect(
      registryAccess({ auth: 'on', principalsFile: join(dir, 'missing.json') }, silentLogger),
    ).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });
  });

  it('lets everyone in with auth off, and says so', async () => {
    const warnings: string[] = [];
    expect(
      await registryAccess({ auth: 'off', principalsFile: undefined }, recordingLogger(warnings)),
    ).toEqual({});
    expect(warnings).toEqual([
      'UNDERSTUDY_REGISTRY_AUTH=off: any caller may read and change every tenant in the registry',
    ]);
  });
});

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of stream) all.push(item);
  return all;
}
