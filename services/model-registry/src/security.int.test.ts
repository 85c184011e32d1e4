import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, getOption, type DescMethod, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AccessRole,
  DatasetSplit,
  EvaluationKind,
  EvaluationVerdict,
  EventMetaSchema,
  ModelRegistryService,
  ModelStage,
  required_role,
  TaskEventSchema,
  TaskSchema,
  TaskState,
  type ModelVersion,
  type WatchRoutingTableResponse,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { createClient, type Client, type ClientOptions } from '@understudy/grpc';
import { testAuthority, type KeyPair, type TestAuthority } from '@understudy/grpc/testing';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { postgresUrl } from '@understudy/service';
import { createLogger, startTelemetry, type Telemetry } from '@understudy/telemetry';
import { createDatabase, uniqueName } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { roleName } from './auth/caller.js';
import { datasetOf } from './testing/fixtures.js';
import { testToken } from './testing/principals.js';
import { startRegistry, type TestRegistry } from './testing/start.js';

/**
 * The registry's security on the real PostgreSQL and Kafka, served over mutual TLS as in a
 * hardened deployment: callers by bearer token (presenting a certificate that names no one) or by
 * their certificate; each method behind its role; every request within the caller's tenants; no
 * secret in what it logs (at debug) or answers.
 */

type Registry = Client<typeof ModelRegistryService>;
type Service = typeof ModelRegistryService;
type MethodName = keyof Service['method'];

const acme = uniqueName('acme');
const globex = uniqueName('globex');
const pipelineSpiffeId = 'spiffe://understudy.test/ns/ci/sa/pipeline';

const tokens = {
  reader: testToken('reader'),
  writer: testToken('writer'),
  approver: testToken('approver'),
  acmeAdmin: testToken('acme-admin'),
  globexAdmin: testToken('globex-admin'),
};

/** Callers of every tenant holding exactly each role below admin (`test-admin` is the admin). */
const roleHolders: readonly (readonly [AccessRole, string])[] = [
  [AccessRole.READER, tokens.reader],
  [AccessRole.WRITER, tokens.writer],
  [AccessRole.APPROVER, tokens.approver],
];

let registry: TestRegistry;
let telemetry: Telemetry;
let authority: TestAuthority;
/** Presented by token callers: mutual TLS asks everyone for a certificate; this one names no one. */
let anonymous: KeyPair;
let pipeline: KeyPair;
let peer: Messaging;
let dir: string;
let databasePassword: string;
/** Every line the registry logged, at debug level. */
const logLines: string[] = [];
/** Every response and error message the tests received, as JSON. */
const answers: string[] = [];
const clients: Registry[] = [];

beforeAll(async () => {
  const { kafka, postgres } = inject('testbed');
  databasePassword = postgres.password;
  const database = await createDatabase(postgres, uniqueName('registry-security'));
  authority = await testAuthority();
  const server = await authority.server();
  anonymous = await authority.client({ commonName: 'nobody-in-particular' });
  pipeline = await authority.client({ commonName: 'ci', uri: pipelineSpiffeId });
  dir = await mkdtemp(join(tmpdir(), 'registry-security-'));
  const files = { ca: authority.ca, cert: server.cert, key: server.key };
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, `${name}.pem`), content);
  }
  telemetry = await startTelemetry({
    serviceName: 'registry-security-test',
    serviceVersion: '0.0.0',
    logger: createLogger('registry-security-test', {
      level: 'debug',
      destination: { write: (line: string) => void logLines.push(line) },
    }),
    ops: { host: '127.0.0.1', port: 0 },
  });
  registry = await startRegistry(kafka.brokers, postgresUrl(database), {
    principals: [
      { subject: 'reader', token: tokens.reader, roles: ['reader'], tenants: ['*'] },
      { subject: 'writer', token: tokens.writer, roles: ['writer'], tenants: ['*'] },
      { subject: 'approver', token: tokens.approver, roles: ['approver'], tenants: ['*'] },
      { subject: 'acme-admin', token: tokens.acmeAdmin, roles: ['admin'], tenants: [acme] },
      { subject: 'globex-admin', token: tokens.globexAdmin, roles: ['admin'], tenants: [globex] },
      { subject: 'ci-pipeline', certSubject: pipelineSpiffeId, roles: ['writer'], tenants: [acme] },
    ],
    env: {
      UNDERSTUDY_GRPC_TLS_CERT_FILE: join(dir, 'cert.pem'),
      UNDERSTUDY_GRPC_TLS_KEY_FILE: join(dir, 'key.pem'),
      UNDERSTUDY_GRPC_TLS_CLIENT_CA_FILE: join(dir, 'ca.pem'),
    },
    start: { telemetry },
  });
  peer = new Messaging({
    driver: new KafkaDriver({ brokers: kafka.brokers, clientId: uniqueName('security-peer') }),
    producerName: 'registry-security-test',
  });
  await peer.start();
});

afterAll(async () => {
  for (const client of clients) client.close();
  await peer.stop();
  await registry.service.stop();
  await telemetry.shutdown();
  await authority.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** A client presenting `token` (none: no authorization header) and a certificate. */
function as(token: string | undefined, certificate: KeyPair = anonymous): Registry {
  const options: ClientOptions = { tls: { ca: authority.ca, ...certificate }, timeoutMs: 15_000 };
  const client =
    token === undefined
      ? createClient(ModelRegistryService, registry.address, options)
      : registry.connect(token, options);
  clients.push(client);
  return client;
}

/** Keeps what a call answered, for the look for secrets at the end. */
function kept<T>(answer: T): T {
  answers.push(
    JSON.stringify(answer, (_, value: unknown) =>
      typeof value === 'bigint' ? String(value) : value,
    ),
  );
  return answer;
}

type AnyCall = (request: object, options?: object) => Promise<unknown> | AsyncIterable<unknown>;

/** Calls any method; a Watch is read up to its first message (the snapshot), then left. */
async function invoke(client: Registry, method: DescMethod, request: object): Promise<unknown> {
  const call = (Reflect.get(client, method.localName) as AnyCall).bind(client);
  const answer = call(request);
  if (!(Symbol.asyncIterator in answer)) return kept(await answer);
  for await (const first of answer) return kept(first);
  return undefined;
}

/** `OK`, or the code the call failed with. */
async function outcome(client: Registry, method: DescMethod, request: object): Promise<string> {
  try {
    await invoke(client, method, request);
    return 'OK';
  } catch (error) {
    if (!(error instanceof UnderstudyError)) throw error;
    answers.push(error.message);
    return error.code;
  }
}

/** Refused at the edge, as opposed to answered by the method (OK, NOT_FOUND, …). */
const atTheEdge: string[] = [ErrorCode.Unauthenticated, ErrorCode.PermissionDenied];

/**
 * For every method, a request that names `tenantId` where that method takes it: at the top or in
 * the resource it carries. Typed by the service, so that a new RPC without a fixture does not
 * compile (and fails the first test below).
 */
const fixtures: {
  readonly [K in MethodName]: (tenantId: string) => MessageInitShape<Service['method'][K]['input']>;
} = {
  getTask: (tenantId) => ({ tenantId, taskId: 'task-x' }),
  listTasks: (tenantId) => ({ tenantId }),
  getSavingsReport: (tenantId) => ({ tenantId }),
  createDataset: (tenantId) => ({ requestId: randomUUID(), dataset: { tenantId } }),
  getDataset: (tenantId) => ({ tenantId, datasetId: randomUUID() }),
  listDatasets: (tenantId) => ({ tenantId }),
  registerModelVersion: (tenantId) => ({ requestId: randomUUID(), modelVersion: { tenantId } }),
  getModelVersion: (tenantId) => ({ tenantId, modelVersionId: randomUUID() }),
  listModelVersions: (tenantId) => ({ tenantId }),
  updateModelVersion: (tenantId) => ({
    modelVersion: { tenantId, modelVersionId: randomUUID(), description: 'x' },
    updateMask: { paths: ['description'] },
  }),
  promoteModelVersion: (tenantId) => ({
    requestId: randomUUID(),
    tenantId,
    modelVersionId: randomUUID(),
    targetStage: ModelStage.PRODUCTION,
  }),
  retireModelVersion: (tenantId) => ({ tenantId, modelVersionId: randomUUID() }),
  approveModelVersion: (tenantId) => ({
    requestId: randomUUID(),
    tenantId,
    modelVersionId: randomUUID(),
    targetStage: ModelStage.PRODUCTION,
    etag: 'x',
  }),
  getPromotionPolicy: (tenantId) => ({ tenantId, taskId: 'task-x' }),
  updatePromotionPolicy: (tenantId) => ({ policy: { tenantId, taskId: uniqueName('task') } }),
  createEvaluation: (tenantId) => ({
    requestId: randomUUID(),
    evaluation: { tenantId, modelVersionId: randomUUID() },
  }),
  getEvaluation: (tenantId) => ({ tenantId, evaluationId: randomUUID() }),
  listEvaluations: (tenantId) => ({ tenantId }),
  getRoutingTable: (tenantId) => ({ tenantId }),
  getRoute: (tenantId) => ({ tenantId, routeId: randomUUID() }),
  listRoutes: (tenantId) => ({ tenantId }),
  updateRoute: (tenantId) => ({
    route: { tenantId, routeId: randomUUID(), trafficPercent: 5 },
    updateMask: { paths: ['traffic_percent'] },
  }),
  rollbackRoute: (tenantId) => ({ requestId: randomUUID(), tenantId, taskId: 'task-x' }),
  watchRoutingTable: (tenantId) => ({ tenantId }),
  getModelVersionLineage: (tenantId) => ({ tenantId, modelVersionId: randomUUID() }),
  getTaskLineage: (tenantId) => ({ tenantId, taskId: 'task-x' }),
  listAuditEntries: (tenantId) => ({ tenantId }),
};

const fixtureOf = (method: DescMethod, tenantId: string): object =>
  fixtures[method.localName as MethodName](tenantId);

describe('every registry method', () => {
  it('has a fixture here, so that no new RPC escapes these checks', () => {
    expect(Object.keys(fixtures).sort()).toEqual(
      ModelRegistryService.methods.map((m) => m.localName).sort(),
    );
  });

  describe.each(ModelRegistryService.methods.map((m) => [m.name, m] as const))(
    '%s',
    (_, method) => {
      const required = getOption(method, required_role);

      it('refuses a caller without a token, or with an unknown one', async () => {
        expect(await outcome(as(undefined), method, fixtureOf(method, acme))).toBe(
          ErrorCode.Unauthenticated,
        );
        expect(await outcome(as(testToken('forged')), method, fixtureOf(method, acme))).toBe(
          ErrorCode.Unauthenticated,
        );
      });

      it(`lets the ${roleName(required)} role in, and refuses every role below it`, async () => {
        const holder = roleHolders.find(([role]) => role === required)?.[1] ?? registry.adminToken;
        expect(atTheEdge).not.toContain(await outcome(as(holder), method, fixtureOf(method, acme)));
        for (const [role, token] of roleHolders.filter(([role]) => role < required)) {
          expect(
            await outcome(as(token), method, fixtureOf(method, acme)),
            `as ${roleName(role)}`,
          ).toBe(ErrorCode.PermissionDenied);
        }
      });

      it("refuses a tenant's caller asking for another tenant, and lets it ask for its own", async () => {
        const acmeAdmin = as(tokens.acmeAdmin);
        expect(await outcome(acmeAdmin, method, fixtureOf(method, globex))).toBe(
          ErrorCode.PermissionDenied,
        );
        expect(atTheEdge).not.toContain(await outcome(acmeAdmin, method, fixtureOf(method, acme)));
      });
    },
  );
});

/** Reads a stream into an array that fills as messages arrive, until `signal` aborts. */
function collect(stream: AsyncIterable<WatchRoutingTableResponse>): WatchRoutingTableResponse[] {
  const seen: WatchRoutingTableResponse[] = [];
  void (async () => {
    for await (const message of stream) seen.push(kept(message));
  })().catch(() => undefined);
  return seen;
}

const routesOf = (messages: WatchRoutingTableResponse[]) =>
  messages.flatMap((m) =>
    m.kind.case === 'snapshot'
      ? m.kind.value.routes
      : m.kind.case === 'change'
        ? m.kind.value.routes
        : [],
  );

describe("one tenant's rows", () => {
  it('are seen by none of the Get, List, report, lineage, policy, routing or Watch calls of another', async () => {
    const owner = as(tokens.acmeAdmin);
    const other = as(tokens.globexAdmin);
    const taskId = uniqueName('task');

    // The task, as the clusterer announces it; every other row through the owner's calls.
    await peer.publish(
      topics.tasks,
      create(TaskEventSchema, {
        meta: create(EventMetaSchema, { eventId: randomUUID(), tenantId: acme }),
        kind: {
          case: 'discovered',
          value: {
            task: create(TaskSchema, {
              taskId,
              tenantId: acme,
              label: 'Extract invoice fields',
              revision: 1n,
              state: TaskState.ACTIVE,
            }),
          },
        },
      }),
    );
    await expect
      .poll(async () => await outcome(owner, ModelRegistryService.method.getTask, { taskId }), {
        timeout: 20_000,
      })
      .toBe('OK');
    const { dataset } = kept(
      await owner.createDataset({ requestId: randomUUID(), dataset: datasetOf(acme, taskId) }),
    );
    const register = async (): Promise<ModelVersion> => {
      const { modelVersion } = kept(
        await owner.registerModelVersion({
          requestId: randomUUID(),
          modelVersion: {
            taskId,
            runId: randomUUID(),
            datasetId: dataset?.datasetId ?? '',
            baseModel: 'tiny-random:llama',
            adapter: { bucket: 'understudy', prefix: `runs/${taskId}/adapter/` },
            metrics: { train_loss: 0.5 },
          },
        }),
      );
      if (modelVersion === undefined) throw new Error('no model version');
      return modelVersion;
    };
    const v1 = await register();
    const { evaluation } = kept(
      await owner.createEvaluation({
        requestId: randomUUID(),
        evaluation: {
          modelVersionId: v1.modelVersionId,
          kind: EvaluationKind.OFFLINE,
          split: DatasetSplit.EVAL,
          datasetId: dataset?.datasetId ?? '',
          evaluatorVersion: 'exact-match@1',
          exampleCount: 20n,
          metrics: { exact_match: 0.95 },
          verdict: EvaluationVerdict.PASSED,
        },
      }),
    );
    kept(
      await as(tokens.approver).approveModelVersion({
        requestId: randomUUID(),
        tenantId: acme,
        modelVersionId: v1.modelVersionId,
        targetStage: ModelStage.PRODUCTION,
        etag: v1.etag,
      }),
    );
    const promoted = kept(
      await owner.promoteModelVersion({
        requestId: randomUUID(),
        modelVersionId: v1.modelVersionId,
        targetStage: ModelStage.PRODUCTION,
        reason: 'offline evaluation passed',
      }),
    );
    const [route] = promoted.routes;
    kept(
      await owner.updatePromotionPolicy({
        policy: { taskId, guards: [{ stage: ModelStage.PRODUCTION, requiredApprovals: 1 }] },
      }),
    );

    // The other tenant's caller names no tenant: the registry scopes its calls to its own.
    const notFound = ErrorCode.NotFound;
    const method = ModelRegistryService.method;
    const ids = { taskId, modelVersionId: v1.modelVersionId };
    expect(await outcome(other, method.getTask, { taskId })).toBe(notFound);
    expect(await outcome(other, method.getDataset, { datasetId: dataset?.datasetId })).toBe(
      notFound,
    );
    expect(await outcome(other, method.getModelVersion, ids)).toBe(notFound);
    expect(
      await outcome(other, method.getEvaluation, { evaluationId: evaluation?.evaluationId }),
    ).toBe(notFound);
    expect(await outcome(other, method.getRoute, { routeId: route?.routeId })).toBe(notFound);
    expect(await outcome(other, method.getModelVersionLineage, ids)).toBe(notFound);
    const taskLineage = await outcome(other, method.getTaskLineage, { taskId });
    if (taskLineage === 'OK') {
      const lineage = kept(await other.getTaskLineage({ taskId }));
      expect(lineage).toMatchObject({
        datasets: [],
        trainingRuns: [],
        modelVersions: [],
        evaluations: [],
        routes: [],
      });
      expect(lineage.task).toBeUndefined();
    } else {
      expect(taskLineage).toBe(notFound);
    }
    expect(kept(await other.listTasks({})).tasks).toEqual([]);
    expect(kept(await other.getSavingsReport({})).report?.tasks).toEqual([]);
    expect(kept(await owner.getSavingsReport({})).report?.tasks).toEqual([
      expect.objectContaining({ taskId }),
    ]);
    expect(kept(await other.listDatasets({ taskId })).datasets).toEqual([]);
    expect(kept(await other.listModelVersions({ taskId })).modelVersions).toEqual([]);
    expect(
      kept(await other.listEvaluations({ modelVersionId: v1.modelVersionId })).evaluations,
    ).toEqual([]);
    expect(kept(await other.listRoutes({ taskId })).routes).toEqual([]);
    expect(kept(await other.listAuditEntries({})).auditEntries).toEqual([]);
    expect(kept(await other.getRoutingTable({})).routingTable?.routes).toEqual([]);
    expect(kept(await other.getPromotionPolicy({ taskId })).policy?.guards ?? []).toEqual([]);
    // Nor can it change them by naming their ids.
    expect(
      await outcome(other, method.updateModelVersion, {
        modelVersion: { ...ids, description: 'taken over' },
        updateMask: { paths: ['description'] },
      }),
    ).toBe(notFound);
    expect(await outcome(other, method.retireModelVersion, ids)).toBe(notFound);
    expect(
      await outcome(other, method.promoteModelVersion, {
        ...ids,
        requestId: randomUUID(),
        targetStage: ModelStage.PRODUCTION,
      }),
    ).toBe(notFound);
    expect(
      await outcome(other, method.updateRoute, {
        route: { routeId: route?.routeId, trafficPercent: 1 },
        updateMask: { paths: ['traffic_percent'] },
      }),
    ).toBe(notFound);
    const { modelVersion: unchanged } = kept(await owner.getModelVersion(ids));
    expect(unchanged).toMatchObject({ stage: ModelStage.PRODUCTION, description: '' });
    expect(kept(await owner.listAuditEntries({})).auditEntries.length).toBeGreaterThan(0);

    // Watches: the other tenant's sees an empty table and none of the owner's later changes,
    // which a watcher of every tenant sees.
    const watching = new AbortController();
    const everyone = collect(
      as(registry.adminToken).watchRoutingTable(
        {},
        { timeoutMs: Infinity, signal: watching.signal },
      ),
    );
    const theirs = collect(
      other.watchRoutingTable({}, { timeoutMs: Infinity, signal: watching.signal }),
    );
    try {
      await expect.poll(() => [everyone.length, theirs.length]).toEqual([1, 1]);
      const v2 = await register();
      const canary = kept(
        await owner.promoteModelVersion({
          requestId: randomUUID(),
          modelVersionId: v2.modelVersionId,
          targetStage: ModelStage.CANARY,
          trafficPercent: 10,
        }),
      );
      await expect
        .poll(
          () =>
            everyone.some(
              (m) => m.kind.case === 'change' && m.kind.value.revision === canary.revision,
            ),
          {
            timeout: 5_000,
          },
        )
        .toBe(true);
      expect(routesOf(everyone).some((r) => r.modelVersionId === v2.modelVersionId)).toBe(true);
      expect(theirs.map((m) => m.kind.case)).toEqual(['snapshot']);
      expect(routesOf(theirs)).toEqual([]);
    } finally {
      watching.abort();
    }
  });
});

describe('mutual TLS', () => {
  it("takes a client certificate's subject for its principal, and its tenants", async () => {
    const ci = as(undefined, pipeline);
    const { dataset } = kept(
      await ci.createDataset({
        requestId: randomUUID(),
        dataset: { ...datasetOf(acme, uniqueName('task')), tenantId: '' },
      }),
    );
    expect(dataset?.tenantId).toBe(acme);
    expect(await outcome(ci, ModelRegistryService.method.listDatasets, { tenantId: globex })).toBe(
      ErrorCode.PermissionDenied,
    );
    const { auditEntries } = kept(
      await as(tokens.acmeAdmin).listAuditEntries({ actor: 'ci-pipeline' }),
    );
    expect(auditEntries.map((entry) => entry.resourceId)).toContain(dataset?.datasetId);
  });
});

describe('secrets', () => {
  it('never appear in what the registry logged at debug level or answered', () => {
    const secrets = [
      ...Object.values(tokens),
      registry.adminToken,
      databasePassword,
      ...[...Object.values(tokens), registry.adminToken].flatMap((token) => {
        const digest = createHash('sha256').update(token).digest('hex');
        return [digest, digest.toUpperCase()];
      }),
    ];
    expect(secrets.every((secret) => secret.length >= 16)).toBe(true);
    // The logs are those of a full flow: refused calls at debug, changes, views, the relay.
    expect(logLines.length).toBeGreaterThan(20);
    expect(logLines.some((line) => line.includes('"level":"debug"'))).toBe(true);
    expect(logLines.some((line) => line.includes('the bearer token is not known'))).toBe(true);
    expect(answers.length).toBeGreaterThan(100);
    for (const secret of secrets) {
      expect(logLines.filter((line) => line.includes(secret))).toEqual([]);
      expect(answers.filter((answer) => answer.includes(secret))).toEqual([]);
    }
  });
});
