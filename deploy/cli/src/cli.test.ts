import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toJson } from '@bufbuild/protobuf';
import {
  ListModelVersionsResponseSchema,
  ModelRegistryService,
  ModelStage,
  ModelVersionSchema,
  ResourceType,
  TaskState,
  type ModelVersion,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { GrpcServer, type CallContext, type ServiceImpl } from '@understudy/grpc';
import { testAuthority } from '@understudy/grpc/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from './cli.js';
import type { Io } from './io.js';

type Impl = ServiceImpl<typeof ModelRegistryService>;

interface Call {
  readonly method: string;
  readonly request: unknown;
  readonly authorization: string | undefined;
}

/** A ModelRegistryService whose methods a test sets; the rest answer UNIMPLEMENTED. */
let fake: { -readonly [K in keyof Impl]?: Impl[K] } = {};
const calls: Call[] = [];
let impl: Impl;
let server: GrpcServer;
let address: string;
let dir: string;

beforeAll(async () => {
  impl = Object.fromEntries(
    ModelRegistryService.methods.map((method) => [
      method.localName,
      (request: unknown, context: CallContext) => {
        const [authorization] = context.metadata.get('authorization');
        calls.push({
          method: method.name,
          request,
          authorization: typeof authorization === 'string' ? authorization : undefined,
        });
        const handler = fake[method.localName as keyof Impl] as
          ((request: unknown, context: CallContext) => unknown) | undefined;
        if (handler === undefined) {
          throw new UnderstudyError(ErrorCode.Unimplemented, `${method.name} is not faked`);
        }
        return handler(request, context);
      },
    ]),
  ) as unknown as Impl;
  server = new GrpcServer({ host: '127.0.0.1', port: 0, shutdownTimeoutMs: 100 });
  server.register(ModelRegistryService, impl);
  address = `127.0.0.1:${String(await server.start())}`;
  dir = await mkdtemp(join(tmpdir(), 'understudy-cli-'));
});

afterAll(async () => {
  await server.shutdown();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  fake = {};
  calls.length = 0;
});

/** Runs the CLI against the fake, capturing what it prints. */
async function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { UNDERSTUDY_REGISTRY_ADDRESS: address, ...env },
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

function requestsOf(method: string): unknown[] {
  return calls.filter((c) => c.method === method).map((c) => c.request);
}

function versionOf(
  fields: Partial<Pick<ModelVersion, 'modelVersionId' | 'stage' | 'trafficPercent' | 'etag'>> = {},
): ModelVersion {
  return create(ModelVersionSchema, {
    modelVersionId: 'mv1',
    tenantId: 'acme',
    taskId: 't1',
    version: 1,
    stage: ModelStage.REGISTERED,
    baseModel: 'qwen2.5-0.5b',
    etag: 'etag-5',
    ...fields,
  });
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('listing', () => {
  it('sends the filters and prints a table, noting the next page', async () => {
    fake.listTasks = () => ({
      tasks: [
        { taskId: 't1', label: 'Extract invoice fields', state: TaskState.ACTIVE, callCount: 12n },
      ],
      nextPageToken: 'p2',
    });
    const result = await run([
      'registry',
      'tasks',
      'list',
      '--tenant',
      'acme',
      '--state',
      'active',
      '--agent',
      'billing-bot',
      '--min-suitability',
      '0.7',
      '--order-by',
      'call_count desc',
      '--page-size',
      '1',
    ]);
    expect(result).toMatchObject({ code: 0 });
    expect(requestsOf('ListTasks')).toMatchObject([
      {
        tenantId: 'acme',
        state: TaskState.ACTIVE,
        agentName: 'billing-bot',
        minSuitability: 0.7,
        orderBy: 'call_count desc',
        pageSize: 1,
        pageToken: '',
      },
    ]);
    expect(result.stdout).toMatch(/^TASK\s+LABEL/);
    expect(result.stdout).toMatch(/t1\s+Extract invoice fields\s+-\s+active\s+12/);
    expect(result.stderr).toBe('More results: add --all, or --page-token p2\n');
  });

  it('follows page tokens with --all into one JSON document', async () => {
    const pages: Record<string, { modelVersions: ModelVersion[]; nextPageToken: string }> = {
      '': { modelVersions: [versionOf({ modelVersionId: 'mv1' })], nextPageToken: 'p2' },
      p2: { modelVersions: [versionOf({ modelVersionId: 'mv2' })], nextPageToken: 'p3' },
      p3: { modelVersions: [versionOf({ modelVersionId: 'mv3' })], nextPageToken: '' },
    };
    fake.listModelVersions = (request) =>
      pages[request.pageToken] ?? { modelVersions: [], nextPageToken: '' };
    const result = await run([
      'registry',
      'models',
      'list',
      '--task',
      't1',
      '--stage',
      'canary,production',
      '--all',
      '-o',
      'json',
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(requestsOf('ListModelVersions')).toMatchObject(
      ['', 'p2', 'p3'].map((pageToken) => ({
        taskId: 't1',
        stages: [ModelStage.CANARY, ModelStage.PRODUCTION],
        pageToken,
      })),
    );
    const all = create(ListModelVersionsResponseSchema, {
      modelVersions: ['mv1', 'mv2', 'mv3'].map((id) => versionOf({ modelVersionId: id })),
    });
    expect(JSON.parse(result.stdout)).toEqual(toJson(ListModelVersionsResponseSchema, all));
  });
});

describe('tasks report', () => {
  it('asks for the suitable top tasks and prints the headline and rows, or plain JSON', async () => {
    fake.getSavingsReport = (request) => ({
      report: {
        tenantId: request.tenantId,
        currency: 'USD',
        tenantCostPerMonth: 1_000,
        taskCount: 1,
        shareOfCalls: 0.3,
        shareOfSpend: 0.4,
        currentCostPerMonth: 300,
        projectedCostPerMonth: 20,
        savingsPerMonth: 280,
        tasks: [
          {
            taskId: 't1',
            label: 'Extract invoice fields',
            agentName: 'billing-bot',
            callsPerDay: 100,
            suitability: { overall: 0.9 },
            savings: { currency: 'USD', savingsPerMonth: 280 },
          },
        ],
      },
    });
    const argv = ['tasks', 'report', '--min-suitability', '0.7', '--top', '10', '--tenant', 'acme'];
    const table = await run(argv);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(requestsOf('GetSavingsReport')).toMatchObject([
      { tenantId: 'acme', minSuitability: 0.7, limit: 10 },
    ]);
    expect(table.stdout).toMatch(
      /^This task carries 30% of calls and 40% of LLM spend \(of \$1,000\.00\/month\); projected saving \$280\.00\/month\.\n\nLABEL/,
    );
    expect(table.stdout).toMatch(/Extract invoice fields\s+billing-bot\s+100\s/);

    const json = await run([...argv, '-o', 'json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(json.stdout)).toMatchObject({
      tenantId: 'acme',
      totals: { tasks: 1, savingsPerMonth: 280, tenantCostPerMonth: 1_000 },
      tasks: [{ taskId: 't1', suitability: { overall: 0.9 }, savings: { latencyP50Ms: null } }],
    });

    await run(['tasks', 'report']);
    expect(requestsOf('GetSavingsReport').at(-1)).toMatchObject({ minSuitability: 0, limit: 0 });
  });

  it('refuses a suitability outside 0 to 1 or a top below 1, with exit 2', async () => {
    for (const argv of [
      ['tasks', 'report', '--min-suitability', '1.5'],
      ['tasks', 'report', '--top', '0'],
      ['tasks', 'report', '--top', 'ten'],
    ]) {
      const result = await run(argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /^error: .*\nRun 'understudy tasks report --help' for usage\.\n$/,
      );
    }
    expect(calls).toEqual([]);
  });
});

describe('promote', () => {
  it("sends the version's etag and the routing revision it read, with a fresh request id", async () => {
    const promoted = versionOf({ stage: ModelStage.CANARY, trafficPercent: 10, etag: 'etag-6' });
    fake.getModelVersion = () => ({ modelVersion: versionOf() });
    fake.getRoutingTable = () => ({ routingTable: { revision: 41n } });
    fake.promoteModelVersion = () => ({
      modelVersion: promoted,
      routes: [
        {
          routeId: 'ro1',
          taskId: 't1',
          modelVersionId: 'mv1',
          stage: ModelStage.CANARY,
          trafficPercent: 10,
        },
      ],
      revision: 42n,
    });
    const argv = [
      'registry',
      'promote',
      'mv1',
      '--to',
      'canary',
      '--percent',
      '10',
      '--reason',
      'eval passed',
    ];

    const table = await run(argv);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(table.stdout).toContain('Model version mv1 is now canary 10% (routing revision 42).');
    expect(table.stdout).toMatch(/t1\s+mv1\s+canary\s+10%/);
    expect(requestsOf('GetRoutingTable')).toMatchObject([{ tenantId: 'acme' }]);
    const [request] = requestsOf('PromoteModelVersion');
    expect(request).toMatchObject({
      tenantId: 'acme',
      modelVersionId: 'mv1',
      targetStage: ModelStage.CANARY,
      trafficPercent: 10,
      etag: 'etag-5',
      expectedRevision: 41n,
      reason: 'eval passed',
      validateOnly: false,
    });
    expect((request as { requestId: string }).requestId).toMatch(uuid);

    const json = await run([...argv, '--output', 'json']);
    expect(json.code).toBe(0);
    const document: unknown = JSON.parse(json.stdout);
    expect(document).toMatchObject({
      modelVersion: { stage: 'MODEL_STAGE_CANARY', trafficPercent: 10 },
      revision: '42',
    });
    const ids = requestsOf('PromoteModelVersion').map(
      (r) => (r as { requestId: string }).requestId,
    );
    expect(new Set(ids).size).toBe(2);
  });

  it('checks guards with --dry-run and exits 4 when the promotion would be refused', async () => {
    fake.getModelVersion = () => ({ modelVersion: versionOf({ stage: ModelStage.CANARY }) });
    fake.getRoutingTable = () => ({ routingTable: { revision: 7n } });
    fake.promoteModelVersion = () => ({
      modelVersion: versionOf({ stage: ModelStage.CANARY }),
      guardResults: [
        {
          guard: 'PRODUCTION needs OFFLINE/EVAL exact_match >= 0.9',
          passed: false,
          violations: ['exact_match is 0.84'],
        },
        { guard: 'PRODUCTION needs 1 approval', passed: true },
      ],
    });
    const result = await run(['registry', 'promote', 'mv1', '--to', 'production', '--dry-run']);
    expect(requestsOf('PromoteModelVersion')).toMatchObject([
      {
        validateOnly: true,
        targetStage: ModelStage.PRODUCTION,
        trafficPercent: 0,
      },
    ]);
    expect(result.code).toBe(4);
    expect(result.stdout).toContain('Dry run: mv1 may not move to production; nothing changed.');
    expect(result.stdout).toMatch(/exact_match >= 0\.9\s+failed\s+exact_match is 0\.84/);
    expect(result.stderr).toBe(
      'error: FAILED_PRECONDITION: mv1 may not move to production\n' +
        '  violations:\n' +
        '    - PRODUCTION needs OFFLINE/EVAL exact_match >= 0.9: exact_match is 0.84\n',
    );
  });

  it("prints the registry's refusal with its details and exits 4", async () => {
    const details = {
      guardResults: [
        {
          guard: 'PRODUCTION needs exact_match >= 0.9',
          passed: false,
          violations: ['exact_match is 0.84'],
        },
        { guard: 'PRODUCTION needs 1 approval', passed: true, violations: [] },
      ],
      stage: 'PRODUCTION',
    };
    fake.getModelVersion = () => ({ modelVersion: versionOf() });
    fake.getRoutingTable = () => ({ routingTable: { revision: 7n } });
    fake.promoteModelVersion = () => {
      throw new UnderstudyError(ErrorCode.FailedPrecondition, 'promotion guards failed', {
        details,
      });
    };
    const table = await run(['registry', 'promote', 'mv1', '--to', 'production']);
    expect(table).toEqual({
      code: 4,
      stdout: '',
      stderr:
        'error: FAILED_PRECONDITION: promotion guards failed\n' +
        '  guardResults:\n' +
        '    - PRODUCTION needs exact_match >= 0.9: exact_match is 0.84\n' +
        '    - PRODUCTION needs 1 approval: passed\n' +
        '  stage: PRODUCTION\n',
    });
    const json = await run(['registry', 'promote', 'mv1', '--to', 'production', '-o', 'json']);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stderr)).toEqual({
      error: {
        code: 'FAILED_PRECONDITION',
        message: 'promotion guards failed',
        details,
        statusDetails: [],
      },
    });
  });

  it('refuses a bad command line before calling anything, with exit 2', async () => {
    const cases = [
      ['registry', 'promote', 'mv1', '--to', 'canary'],
      ['registry', 'promote', 'mv1', '--to', 'production', '--percent', '10'],
      ['registry', 'promote', 'mv1', '--to', 'retired'],
      ['registry', 'promote', 'mv1', '--to', 'canary', '--percent', '101'],
    ];
    for (const argv of cases) {
      const result = await run(argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /^error: .*\nRun 'understudy registry promote --help' for usage\.\n$/,
      );
    }
    expect(calls).toEqual([]);
  });
});

describe('rollback and approve', () => {
  it('rolls back with the routing revision it read', async () => {
    fake.getRoutingTable = () => ({ routingTable: { revision: 50n } });
    fake.rollbackRoute = () => ({ routes: [], revision: 51n });
    const result = await run([
      'registry',
      'rollback',
      '--task',
      't1',
      '--tenant',
      'acme',
      '--reason',
      'errors',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      'Rolled back task t1 (routing revision 51).\n\nRoutes of the task:\nNo routes: the calls go to the LLM.\n',
    );
    const [request] = requestsOf('RollbackRoute');
    expect(request).toMatchObject({
      tenantId: 'acme',
      taskId: 't1',
      reason: 'errors',
      expectedRevision: 50n,
    });
    expect((request as { requestId: string }).requestId).toMatch(uuid);
  });

  it('approves the version as read, by its etag', async () => {
    fake.getModelVersion = () => ({ modelVersion: versionOf() });
    fake.approveModelVersion = (request) => ({
      approval: {
        approvalId: 'ap1',
        modelVersionId: request.modelVersionId,
        targetStage: request.targetStage,
        approver: 'bob',
      },
    });
    const result = await run([
      'registry',
      'approve',
      'mv1',
      '--for',
      'production',
      '--comment',
      'ok',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Approval:       ap1');
    expect(result.stdout).toContain('For stage:      production');
    expect(requestsOf('ApproveModelVersion')).toMatchObject([
      {
        targetStage: ModelStage.PRODUCTION,
        etag: 'etag-5',
        comment: 'ok',
        tenantId: 'acme',
      },
    ]);
  });
});

describe('lineage, audit and policy', () => {
  it('asks for a task lineage with predecessors and draws it', async () => {
    fake.getTaskLineage = () => ({
      task: { taskId: 't1', label: 'Extract', state: TaskState.ACTIVE },
      modelVersions: [versionOf()],
      predecessorTaskIds: ['t0'],
    });
    const result = await run(['registry', 'lineage', '--task', 't1', '--predecessors']);
    expect(result.code).toBe(0);
    expect(requestsOf('GetTaskLineage')).toMatchObject([
      { taskId: 't1', includePredecessors: true },
    ]);
    expect(result.stdout).toBe(
      'task t1  "Extract"  active\n├─ succeeds t0\n└─ model version mv1  v1  registered  qwen2.5-0.5b\n',
    );
    expect((await run(['registry', 'lineage'])).code).toBe(2);
    expect((await run(['registry', 'lineage', 'mv1', '--predecessors'])).code).toBe(2);
  });

  it('filters the audit log by resource and time', async () => {
    fake.listAuditEntries = () => ({ auditEntries: [] });
    const result = await run([
      'registry',
      'audit',
      '--resource-type',
      'model-version',
      '--resource',
      'mv1',
      '--actor',
      'alice',
      '--since',
      '2026-03-01T00:00:00Z',
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'No audit entries.\n' });
    expect(requestsOf('ListAuditEntries')).toMatchObject([
      {
        resourceType: ResourceType.MODEL_VERSION,
        resourceId: 'mv1',
        actor: 'alice',
        window: {
          startTime: { seconds: 1772323200n },
        },
      },
    ]);
  });

  it("sets a task's policy from a file, with the etag of the task's own policy", async () => {
    const file = join(dir, 'policy.json');
    await writeFile(
      file,
      JSON.stringify({ guards: [{ stage: 'MODEL_STAGE_PRODUCTION', requiredApprovals: 1 }] }),
    );
    fake.getPromotionPolicy = (request) => ({
      policy: { tenantId: 'acme', taskId: request.taskId, etag: 'p-3' },
    });
    fake.updatePromotionPolicy = (request) => ({
      policy: request.policy && { ...request.policy, etag: 'p-4' },
    });
    const result = await run([
      'registry',
      'policy',
      'set',
      '--task',
      't1',
      '--file',
      file,
      '--tenant',
      'acme',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Policy:  task t1');
    expect(requestsOf('UpdatePromotionPolicy')).toMatchObject([
      {
        policy: {
          tenantId: 'acme',
          taskId: 't1',
          etag: 'p-3',
          guards: [{ stage: ModelStage.PRODUCTION, requiredApprovals: 1 }],
        },
        updateMask: { paths: ['guards'] },
      },
    ]);
  });

  it('creates a task policy where only the default stood in', async () => {
    const file = join(dir, 'shown.json');
    // What `policy show --output json` prints, as people would edit it.
    await writeFile(
      file,
      JSON.stringify({ policy: { guards: [{ stage: 'MODEL_STAGE_CANARY' }] } }),
    );
    fake.getPromotionPolicy = () => ({
      policy: { tenantId: 'acme', taskId: '', etag: 'default-1' },
    });
    fake.updatePromotionPolicy = (request) => ({ policy: request.policy });
    expect((await run(['registry', 'policy', 'set', '--task', 't1', '--file', file])).code).toBe(0);
    expect(requestsOf('UpdatePromotionPolicy')).toMatchObject([
      { policy: { taskId: 't1', etag: '' } },
    ]);
  });
});

describe('connection and failures', () => {
  it('sends the token from the token file and never prints it', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'sekrit-token-123\n');
    fake.getTask = () => {
      throw new UnderstudyError(ErrorCode.PermissionDenied, 'reader role required');
    };
    const result = await run(['registry', 'tasks', 'show', 't1'], {
      UNDERSTUDY_REGISTRY_TOKEN_FILE: tokenFile,
    });
    expect(calls.map((c) => c.authorization)).toEqual(['Bearer sekrit-token-123']);
    expect(result).toEqual({
      code: 5,
      stdout: '',
      stderr: 'error: PERMISSION_DENIED: reader role required\n',
    });

    const missing = await run([
      'registry',
      'tasks',
      'show',
      't1',
      '--token-file',
      join(dir, 'nope'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`cannot read token file ${join(dir, 'nope')}: ENOENT`);
  });

  it('maps not found to 3 and an unreachable registry to 1', async () => {
    fake.getModelVersion = () => {
      throw new UnderstudyError(ErrorCode.NotFound, 'model version mv9 not found');
    };
    expect(await run(['registry', 'models', 'show', 'mv9'])).toMatchObject({
      code: 3,
      stderr: 'error: NOT_FOUND: model version mv9 not found\n',
    });
    const unreachable = await run([
      'registry',
      'models',
      'show',
      'mv9',
      '--address',
      '127.0.0.1:1',
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^error: UNAVAILABLE: /);
  });

  it('prints help for groups and commands, and lists the commands of a group on a wrong word', async () => {
    const help = await run(['registry', 'promote', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /^Usage: understudy registry promote <model-version-id> --to STAGE \[options\]\n/,
    );
    expect(help.stdout).toContain('Examples:\n  understudy registry promote');
    const group = await run(['registry']);
    expect(group.code).toBe(2);
    expect(group.stderr).toMatch(/Commands:\n {2}tasks\s+Tasks found by the clusterer/);
    const wrong = await run(['registry', 'modles', 'list']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(
      /^error: unknown command "modles"\n\nUsage: understudy registry <command>/,
    );
    expect(calls).toEqual([]);
  });
});

describe('TLS', () => {
  it('calls over mutual TLS with the CA, certificate and key files given', async () => {
    const authority = await testAuthority();
    const subjects: string[] = [];
    const tlsServer = new GrpcServer({
      host: '127.0.0.1',
      port: 0,
      shutdownTimeoutMs: 100,
      tls: { ...(await authority.server()), clientCa: authority.ca },
      authenticate: (_metadata, _method, peer) => {
        const subject = String(peer.certificate?.subject.CN);
        subjects.push(subject);
        return { subject };
      },
    });
    try {
      tlsServer.register(ModelRegistryService, impl);
      // The server's certificate names localhost, not the loopback address.
      const tlsAddress = `localhost:${String(await tlsServer.start())}`;
      const client = await authority.client({ commonName: 'ops-cli' });
      const files = { ca: authority.ca, cert: client.cert, key: client.key };
      for (const [name, pem] of Object.entries(files))
        await writeFile(join(dir, `${name}.pem`), pem);
      fake.getTask = () => ({ task: { taskId: 't1', label: 'Extract' } });

      const result = await run([
        'registry',
        'tasks',
        'show',
        't1',
        '--address',
        tlsAddress,
        '--tls-ca',
        join(dir, 'ca.pem'),
        '--tls-cert',
        join(dir, 'cert.pem'),
        '--tls-key',
        join(dir, 'key.pem'),
      ]);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toContain('Label:');
      expect(subjects).toEqual(['ops-cli']);

      const plaintext = await run(['registry', 'tasks', 'show', 't1', '--address', tlsAddress]);
      expect(plaintext.code).toBe(1);
      expect(plaintext.stderr).toMatch(/^error: UNAVAILABLE: /);
    } finally {
      await tlsServer.shutdown();
      await authority.dispose();
    }
  });
});
