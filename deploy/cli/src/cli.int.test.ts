import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DatasetSplit,
  EvaluationKind,
  EvaluationVerdict,
  type Dataset,
  type ModelRegistryService,
  type ModelVersion,
} from '@understudy/contracts';
import type { Client } from '@understudy/grpc';
import {
  announceTasks,
  createdDataset,
  measuredTask,
  registeredOn,
  startRegistry,
  testToken,
  type TestRegistry,
} from '@understudy/model-registry/testing';
import { postgresUrl } from '@understudy/service';
import { createDatabase, uniqueName } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from './cli.js';

let service: TestRegistry['service'];
let registry: Client<typeof ModelRegistryService>;
let address: string;
let dir: string;

const tenantId = uniqueName('tenant');
const taskId = uniqueName('task');
/** Bearer tokens by principal: the trainer registers, ops promotes, the reviewer approves. */
const tokens = {
  trainer: testToken('trainer'),
  ops: testToken('ops'),
  reviewer: testToken('reviewer'),
};
const tokenFile = (name: keyof typeof tokens) => join(dir, `${name}.token`);
let dataset: Dataset;
let v1: ModelVersion;
let v2: ModelVersion;

/** The registry on the test bed; the CLI reads ops's token from a file, as deployed. */
beforeAll(async () => {
  const { kafka, postgres } = inject('testbed');
  const database = await createDatabase(postgres, uniqueName('cli'));
  const started = await startRegistry(kafka.brokers, postgresUrl(database), {
    principals: [
      { subject: 'trainer', token: tokens.trainer, roles: ['writer'], tenants: ['*'] },
      { subject: 'ops', token: tokens.ops, roles: ['admin'], tenants: [tenantId] },
      { subject: 'reviewer', token: tokens.reviewer, roles: ['approver'], tenants: [tenantId] },
    ],
  });
  ({ service, address } = started);
  registry = started.connect(tokens.trainer);
  dir = await mkdtemp(join(tmpdir(), 'understudy-cli-int-'));
  for (const [name, token] of Object.entries(tokens)) {
    await writeFile(tokenFile(name as keyof typeof tokens), `${token}\n`);
  }

  dataset = await createdDataset(registry, tenantId, taskId);
  v1 = await registeredOn(registry, dataset);
  v2 = await registeredOn(registry, dataset);
});

afterAll(async () => {
  registry.close();
  await service.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The CLI as ops runs it, against the registry, for this test's tenant. */
async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main([...argv, '--tenant', tenantId], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { UNDERSTUDY_REGISTRY_ADDRESS: address, UNDERSTUDY_REGISTRY_TOKEN_FILE: tokenFile('ops') },
  });
  return { code, stdout, stderr };
}

function json(result: { code: number; stdout: string; stderr: string }): Record<string, unknown> {
  expect(result).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

describe('understudy registry against the registry on PostgreSQL and Kafka', () => {
  it('lists model versions as a table and as proto JSON', async () => {
    const table = await cli('registry', 'models', 'list', '--task', taskId);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(table.stdout).toMatch(/^MODEL VERSION\s+TASK\s+VER\s+STAGE/);
    expect(table.stdout).toMatch(
      new RegExp(`${v1.modelVersionId}\\s+${taskId}\\s+1\\s+registered`),
    );
    expect(table.stdout).toMatch(
      new RegExp(`${v2.modelVersionId}\\s+${taskId}\\s+2\\s+registered`),
    );

    const document = json(await cli('registry', 'models', 'list', '--task', taskId, '-o', 'json'));
    expect(document['modelVersions']).toHaveLength(2);
  });

  it('promotes to production, then guards the next one with a policy set from a file', async () => {
    const first = await cli('registry', 'promote', v1.modelVersionId, '--to', 'production');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain(`Model version ${v1.modelVersionId} is now production`);

    const file = join(dir, 'policy.json');
    await writeFile(
      file,
      JSON.stringify({
        guards: [
          {
            stage: 'MODEL_STAGE_PRODUCTION',
            evaluationKind: 'EVALUATION_KIND_OFFLINE',
            split: 'DATASET_SPLIT_EVAL',
            minMetrics: [{ metric: 'exact_match', min: 0.9 }],
            requiredApprovals: 1,
          },
        ],
      }),
    );
    const set = await cli('registry', 'policy', 'set', '--task', taskId, '--file', file);
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(set.stdout).toMatch(/production\s+offline\/eval\s+exact_match>=0\.9\s+-\s+1/);

    // No evaluation yet: the dry run is refused as the promotion would be, and changes nothing.
    const refused = await cli(
      'registry',
      'promote',
      v2.modelVersionId,
      '--to',
      'production',
      '--dry-run',
    );
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^error: FAILED_PRECONDITION: /);
    expect(refused.stdout).toContain(`Dry run: ${v2.modelVersionId} may not move to production`);
    expect(refused.stdout).toMatch(/PRODUCTION needs .*\s+failed\s+/);

    // Without --dry-run the registry refuses it, naming each guard's verdict.
    const promotion = await cli('registry', 'promote', v2.modelVersionId, '--to', 'production');
    expect(promotion).toMatchObject({ code: 4, stdout: '' });
    expect(promotion.stderr).toMatch(
      /^error: FAILED_PRECONDITION: .*\n {2}\w+:\n {4}- PRODUCTION needs .*: no OFFLINE evaluation on EVAL was recorded; 0 of 1 approvals/,
    );
    const unchanged = json(
      await cli('registry', 'models', 'show', v2.modelVersionId, '-o', 'json'),
    );
    expect(unchanged).toMatchObject({ modelVersion: { stage: 'MODEL_STAGE_REGISTERED' } });
  });

  it('moves a canary to 10% and then to production once evaluated and approved', async () => {
    await registry.createEvaluation({
      requestId: randomUUID(),
      evaluation: {
        tenantId,
        modelVersionId: v2.modelVersionId,
        kind: EvaluationKind.OFFLINE,
        datasetId: dataset.datasetId,
        split: DatasetSplit.EVAL,
        evaluatorVersion: 'json-field-match@1',
        exampleCount: 20n,
        metrics: { exact_match: 0.95 },
        verdict: EvaluationVerdict.PASSED,
      },
    });
    const canary = json(
      await cli(
        'registry',
        'promote',
        v2.modelVersionId,
        '--to',
        'canary',
        '--percent',
        '10',
        '-o',
        'json',
      ),
    );
    expect(canary).toMatchObject({
      modelVersion: {
        modelVersionId: v2.modelVersionId,
        stage: 'MODEL_STAGE_CANARY',
        trafficPercent: 10,
      },
    });
    expect(canary['routes']).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          modelVersionId: v1.modelVersionId,
          stage: 'MODEL_STAGE_PRODUCTION',
        }),
        expect.objectContaining({ modelVersionId: v2.modelVersionId, stage: 'MODEL_STAGE_CANARY' }),
      ]),
    );

    const approval = await cli(
      'registry',
      'approve',
      v2.modelVersionId,
      '--for',
      'production',
      '--comment',
      'eval report reviewed',
      '--token-file',
      tokenFile('reviewer'),
    );
    expect(approval).toMatchObject({ code: 0, stderr: '' });
    expect(approval.stdout).toMatch(/Approver:\s+reviewer/);

    const production = await cli(
      'registry',
      'promote',
      v2.modelVersionId,
      '--to',
      'production',
      '--reason',
      'canary healthy',
    );
    expect(production).toMatchObject({ code: 0, stderr: '' });
    expect(production.stdout).toContain(`Model version ${v2.modelVersionId} is now production`);
    expect(production.stdout).toMatch(
      /PRODUCTION needs OFFLINE evaluation on EVAL with exact_match.*\s+passed\s+-\n/,
    );
  });

  it('shows the lineage of the version and of the task', async () => {
    const version = await cli('registry', 'lineage', v2.modelVersionId);
    expect(version).toMatchObject({ code: 0, stderr: '' });
    expect(version.stdout.split('\n')[0]).toBe(
      `model version ${v2.modelVersionId}  v2  production  tiny-random:llama`,
    );
    expect(version.stdout).toContain(
      `├─ dataset ${dataset.datasetId}  v1  80 train / 20 eval  calls 2026-01-01T00:00:00Z … 2026-01-08T00:00:00Z`,
    );
    expect(version.stdout).toMatch(
      /evaluations\n.*└─ evaluation \S+ {2}offline\/eval {2}passed {2}exact_match=0\.95/,
    );

    const task = json(await cli('registry', 'lineage', '--task', taskId, '-o', 'json'));
    expect(task['modelVersions']).toHaveLength(2);
    expect(task['evaluations']).toHaveLength(1);
    expect(task['datasets']).toEqual([expect.objectContaining({ datasetId: dataset.datasetId })]);
  });

  it('rolls the task back to the previous production version and audits it all', async () => {
    const rollback = await cli('registry', 'rollback', '--task', taskId, '--reason', 'error rate');
    expect(rollback).toMatchObject({ code: 0, stderr: '' });
    expect(rollback.stdout).toMatch(/^Rolled back task \S+ \(routing revision \d+\)\./);
    expect(rollback.stdout).toMatch(
      new RegExp(`${taskId}\\s+${v1.modelVersionId}\\s+production\\s+100%`),
    );

    const routes = json(await cli('registry', 'routes', 'list', '--task', taskId, '-o', 'json'));
    expect(routes['routes']).toEqual([
      expect.objectContaining({
        modelVersionId: v1.modelVersionId,
        stage: 'MODEL_STAGE_PRODUCTION',
      }),
    ]);

    const audit = json(
      await cli('registry', 'audit', '--resource', v2.modelVersionId, '--all', '-o', 'json'),
    );
    const actions = (audit['auditEntries'] as { action: string; reason?: string }[]).map(
      (e) => e.action,
    );
    expect(actions).toContain('PromoteModelVersion');
  });

  it('exits 5 without a token and 3 for a version that does not exist', async () => {
    const anonymous = await main(
      ['registry', 'models', 'list', '--tenant', tenantId, '--address', address],
      {
        stdout: { write: () => true },
        stderr: { write: () => true },
        env: {},
      },
    );
    expect(anonymous).toBe(5);

    const missing = await cli('registry', 'models', 'show', randomUUID());
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^error: NOT_FOUND: /);
  });
});

describe('understudy tasks report against the registry on PostgreSQL and Kafka', () => {
  it("ranks the tenant's announced tasks by saving, as a table and as plain JSON", async () => {
    const measuredAt = new Date('2026-03-01T00:00:00Z');
    const measured = { tenantCost: 1_000, measuredAt };
    await announceTasks(inject('testbed').kafka.brokers, [
      measuredTask(
        tenantId,
        uniqueName('invoices'),
        { ...measured, suitability: 0.9, currentCost: 300, projectedCost: 20 },
        { label: 'Extract invoice fields as JSON', callsPerDay: 240 },
      ),
      measuredTask(
        tenantId,
        uniqueName('tickets'),
        {
          ...measured,
          suitability: 0.75,
          currentCost: 500,
          projectedCost: 50,
          shareOfCalls: 0.25,
          shareOfSpend: 0.3,
        },
        { label: 'Classify support tickets', agentName: 'support-bot', callsPerDay: 610 },
      ),
      // Saves most, but not suitable enough for the report asked for.
      measuredTask(tenantId, uniqueName('trips'), { suitability: 0.4, currentCost: 2_000 }),
      // Another tenant's, which ops may not see.
      measuredTask(uniqueName('tenant'), uniqueName('other'), { currentCost: 9_000 }),
    ]);
    const report = async (...options: string[]) =>
      json(await cli('tasks', 'report', '--min-suitability', '0.7', '-o', 'json', ...options));
    await expect
      .poll(async () => (await report())['totals'], { timeout: 30_000, interval: 200 })
      .toMatchObject({ tasks: 2 });

    const document = await report();
    expect(document).toMatchObject({ tenantId, currency: 'USD' });
    expect(document['totals']).toEqual({
      tasks: 2,
      shareOfCalls: 0.35,
      shareOfSpend: 0.4,
      tenantCostPerMonth: 1_000,
      currentCostPerMonth: 800,
      projectedCostPerMonth: 70,
      savingsPerMonth: 730,
    });
    expect(document['tasks']).toEqual([
      expect.objectContaining({
        label: 'Classify support tickets',
        suitability: expect.objectContaining({ overall: 0.75 }) as unknown,
        savings: {
          currentCostPerMonth: 500,
          projectedCostPerMonth: 50,
          savingsPerMonth: 450,
          latencyP50Ms: 850,
          latencyP95Ms: 2_100,
        },
        reasons: ['outputs follow one JSON schema'],
      }),
      expect.objectContaining({ label: 'Extract invoice fields as JSON', shareOfCalls: 0.1 }),
    ]);
    const top = await report('--top', '1');
    expect((top['tasks'] as { label: string }[]).map((task) => task.label)).toEqual([
      'Classify support tickets',
    ]);

    const table = await cli('tasks', 'report', '--min-suitability', '0.7');
    expect(table).toMatchObject({ code: 0, stderr: '' });
    const lines = table.stdout.split('\n');
    expect(lines[0]).toBe(
      'These 2 tasks carry 35% of calls and 40% of LLM spend (of $1,000.00/month); ' +
        'projected saving $730.00/month.',
    );
    expect(lines[3]).toMatch(
      /^Classify support tickets\s+support-bot\s+610\s+25%\s+30%\s+0\.75\s+\$500\.00\s+\$50\.00\s+\$450\.00\s+850ms$/,
    );
    expect(lines[4]).toMatch(
      /^Extract invoice fields as JSON\s+billing-bot\s+240\s+10%\s+10%\s+0\.9\s/,
    );
  });
});
