import { create } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AuditEntrySchema,
  DatasetSchema,
  DatasetSplit,
  EvaluationKind,
  EvaluationSchema,
  EvaluationVerdict,
  GetModelVersionLineageResponseSchema,
  GetTaskLineageResponseSchema,
  ModelStage,
  ModelVersionSchema,
  PromoteModelVersionResponseSchema,
  PromotionPolicySchema,
  ResourceType,
  RollbackRouteResponseSchema,
  RouteSchema,
  SavingsReportSchema,
  TaskSchema,
  TaskState,
  TimeWindowSchema,
  TrainingRunSchema,
  TrainingRunState,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { auditTable } from './audit.js';
import { modelVersionLineageTree, taskLineageTree } from './lineage.js';
import { modelVersionSheet, modelVersionTable } from './models.js';
import { policyView } from './policy.js';
import { dryRunView, promotionView, rollbackView } from './promotion.js';
import { savingsReportDocument, savingsReportView } from './savings-report.js';
import { taskTable } from './tasks.js';

const at = (iso: string) => timestampFromDate(new Date(iso));

const task = create(TaskSchema, {
  taskId: 't1',
  label: 'Extract invoice fields',
  agentName: 'billing-bot',
  state: TaskState.ACTIVE,
  callCount: 5000n,
  callsPerDay: 714.2857,
  suitability: { overall: 0.874 },
  savings: { currency: 'USD', savingsPerMonth: 1234.5 },
  lastSeenAt: at('2026-03-01T10:00:00.123Z'),
});

const dataset = create(DatasetSchema, {
  datasetId: 'd1',
  taskId: 't1',
  version: 2,
  trainExampleCount: 80n,
  evalExampleCount: 20n,
  sourceWindow: create(TimeWindowSchema, {
    startTime: at('2026-01-01T00:00:00Z'),
    endTime: at('2026-01-08T00:00:00Z'),
  }),
});

const run = create(TrainingRunSchema, {
  runId: 'r1',
  taskId: 't1',
  datasetId: 'd1',
  state: TrainingRunState.SUCCEEDED,
  baseModel: 'qwen2.5-0.5b',
  jobName: 'train-r1',
});

const version = create(ModelVersionSchema, {
  modelVersionId: 'mv1',
  tenantId: 'acme',
  taskId: 't1',
  runId: 'r1',
  datasetId: 'd1',
  version: 3,
  baseModel: 'qwen2.5-0.5b',
  stage: ModelStage.CANARY,
  trafficPercent: 10,
  metrics: { exact_match: 0.91 },
  adapter: { bucket: 'models', prefix: 'runs/r1/adapter/', sizeBytes: 3n * 1024n * 1024n },
  createdAt: at('2026-02-01T00:00:00Z'),
  etag: 'e-7',
});

const evaluation = create(EvaluationSchema, {
  evaluationId: 'ev1',
  modelVersionId: 'mv1',
  kind: EvaluationKind.OFFLINE,
  split: DatasetSplit.EVAL,
  verdict: EvaluationVerdict.PASSED,
  metrics: { exact_match: 0.91 },
  evaluatorVersion: 'json-field-match@1',
  createdAt: at('2026-02-02T00:00:00Z'),
});

const route = create(RouteSchema, {
  routeId: 'ro1',
  taskId: 't1',
  modelVersionId: 'mv1',
  stage: ModelStage.CANARY,
  trafficPercent: 10,
  minConfidence: 0.5,
  endpoint: 'http://vllm:8000/v1',
  fallback: { fallbackToLlm: true, validateOutput: true },
  updatedAt: at('2026-02-03T00:00:00Z'),
});

describe('tasks', () => {
  it('lists figures rounded, stage names lower-case, times ISO', () => {
    const lines = taskTable([task], {}).split('\n');
    expect(lines[0]).toMatch(
      /^TASK\s+LABEL\s+AGENT\s+STATE\s+CALLS\s+CALLS\/DAY\s+SUITABILITY\s+SAVINGS\/MONTH\s+LAST SEEN$/,
    );
    expect(lines[1]).toMatch(
      /^t1\s+Extract invoice fields\s+billing-bot\s+active\s+5000\s+714\.3\s+0\.87\s+1234\.50 USD\s+2026-03-01T10:00:00Z$/,
    );
    expect(taskTable([], {})).toBe('No tasks.\n');
  });
});

describe('model versions', () => {
  it('shows the traffic share of partial stages', () => {
    expect(modelVersionTable([version], {})).toMatch(
      /mv1\s+t1\s+3\s+canary 10%\s+qwen2\.5-0\.5b\s+exact_match=0\.91/,
    );
    const sheet = modelVersionSheet(version);
    expect(sheet).toContain('Stage:          canary 10%');
    expect(sheet).toContain('Adapter:        s3://models/runs/r1/adapter/');
    expect(sheet).toContain('  size:         3 MiB');
    expect(sheet).toContain('Etag:           e-7');
  });
});

describe('lineage', () => {
  it('hangs a version on its task, dataset, run, evaluations and approvals', () => {
    const lineage = create(GetModelVersionLineageResponseSchema, {
      modelVersion: version,
      task,
      dataset,
      evaluations: [evaluation],
      approvals: [
        {
          targetStage: ModelStage.PRODUCTION,
          approver: 'bob',
          comment: 'reviewed',
          createdAt: at('2026-02-04T00:00:00Z'),
        },
      ],
    });
    expect(modelVersionLineageTree(lineage)).toBe(
      [
        'model version mv1  v3  canary 10%  qwen2.5-0.5b',
        '├─ task t1  "Extract invoice fields"  active',
        '├─ dataset d1  v2  80 train / 20 eval  calls 2026-01-01T00:00:00Z … 2026-01-08T00:00:00Z',
        '├─ training run r1  (no record in the registry)',
        '├─ evaluations',
        '│  └─ evaluation ev1  offline/eval  passed  exact_match=0.91  json-field-match@1  2026-02-02T00:00:00Z',
        '└─ approvals',
        '   └─ approved for production  by bob  2026-02-04T00:00:00Z  "reviewed"',
        '',
      ].join('\n'),
    );
  });

  it('builds a task tree dataset → run → version, marking records of predecessor tasks', () => {
    const predecessorVersion = create(ModelVersionSchema, {
      modelVersionId: 'mv0',
      taskId: 't0',
      runId: 'r0',
      datasetId: 'd0',
      version: 1,
      stage: ModelStage.REGISTERED,
    });
    const lineage = create(GetTaskLineageResponseSchema, {
      task,
      datasets: [dataset],
      trainingRuns: [run],
      modelVersions: [version, predecessorVersion],
      evaluations: [evaluation],
      routes: [route],
      predecessorTaskIds: ['t0'],
    });
    expect(taskLineageTree(lineage, 't1')).toBe(
      [
        'task t1  "Extract invoice fields"  active',
        '├─ succeeds t0',
        '├─ dataset d1  v2  80 train / 20 eval  calls 2026-01-01T00:00:00Z … 2026-01-08T00:00:00Z',
        '│  └─ training run r1  succeeded  qwen2.5-0.5b  job train-r1',
        '│     └─ model version mv1  v3  canary 10%  qwen2.5-0.5b',
        '│        ├─ evaluation ev1  offline/eval  passed  exact_match=0.91  json-field-match@1  2026-02-02T00:00:00Z',
        '│        └─ route ro1  canary  10%  → http://vllm:8000/v1',
        '└─ model version mv0  v1  registered  (task t0)',
        '',
      ].join('\n'),
    );
  });

  it('names the task asked about when the registry holds no record of it yet', () => {
    const lineage = create(GetTaskLineageResponseSchema, { modelVersions: [version] });
    expect(taskLineageTree(lineage, 't1')).toBe(
      [
        'task t1  (no record in the registry)',
        '└─ model version mv1  v3  canary 10%  qwen2.5-0.5b',
        '',
      ].join('\n'),
    );
  });
});

describe('promotion', () => {
  it('says where the version stands, with the routes and guards', () => {
    const response = create(PromoteModelVersionResponseSchema, {
      modelVersion: version,
      routes: [route],
      revision: 42n,
      guardResults: [{ guard: 'CANARY needs OFFLINE/EVAL exact_match >= 0.9', passed: true }],
    });
    const text = promotionView(response, {});
    expect(text).toContain('Model version mv1 is now canary 10% (routing revision 42).');
    expect(text).toMatch(
      /t1\s+mv1\s+canary\s+10%\s+0\.5\s+llm, validated\s+http:\/\/vllm:8000\/v1/,
    );
    expect(text).toMatch(/CANARY needs OFFLINE\/EVAL exact_match >= 0\.9\s+passed\s+-/);
  });

  it('tells a dry run that would be refused, guard by guard', () => {
    const response = create(PromoteModelVersionResponseSchema, {
      modelVersion: version,
      guardResults: [
        { guard: 'PRODUCTION needs 1 approval', passed: false, violations: ['0 approvals'] },
      ],
    });
    const text = dryRunView(response, 'production', {});
    expect(text).toContain('Dry run: mv1 may not move to production; nothing changed.');
    expect(text).toMatch(/PRODUCTION needs 1 approval\s+failed\s+0 approvals/);
  });

  it('says when a rollback leaves the task to the LLM', () => {
    const text = rollbackView(create(RollbackRouteResponseSchema, { revision: 43n }), 't1', {});
    expect(text).toBe(
      'Rolled back task t1 (routing revision 43).\n\nRoutes of the task:\nNo routes: the calls go to the LLM.\n',
    );
  });
});

describe('audit', () => {
  it('prints the resource as type/id and the details as compact JSON', () => {
    const entry = create(AuditEntrySchema, {
      occurredAt: at('2026-02-03T00:00:00Z'),
      actor: 'alice',
      action: 'PromoteModelVersion',
      resourceType: ResourceType.MODEL_VERSION,
      resourceId: 'mv1',
      reason: 'eval passed',
      details: { stage: { from: 'REGISTERED', to: 'CANARY' } },
    });
    expect(auditTable([entry], {})).toMatch(
      /2026-02-03T00:00:00Z\s+alice\s+PromoteModelVersion\s+model_version\/mv1\s+eval passed\s+\{"stage":\{"from":"REGISTERED","to":"CANARY"\}\}/,
    );
  });
});

describe('policy', () => {
  it('says when the tenant default stands in for a task without a policy', () => {
    const policy = create(PromotionPolicySchema, {
      tenantId: 'acme',
      guards: [
        {
          stage: ModelStage.PRODUCTION,
          evaluationKind: EvaluationKind.OFFLINE,
          split: DatasetSplit.EVAL,
          evaluatorPrefix: 'json-field-match@',
          minMetrics: [{ metric: 'exact_match', min: 0.9 }],
          requirePassedVerdict: true,
          requiredApprovals: 1,
        },
      ],
      etag: 'p-1',
    });
    const text = policyView(policy, 't1', {});
    expect(text).toContain('Policy:  tenant default (task t1 has no policy of its own)');
    expect(text).toMatch(
      /production\s+offline\/eval json-field-match@\*\s+exact_match>=0\.9\s+passed\s+1/,
    );
  });
});

describe('savings report', () => {
  const report = create(SavingsReportSchema, {
    tenantId: 'acme',
    currency: 'USD',
    tenantCostPerMonth: 12_000,
    taskCount: 2,
    shareOfCalls: 0.4 + 0.125,
    shareOfSpend: 0.35,
    currentCostPerMonth: 4_200,
    projectedCostPerMonth: 310.5,
    savingsPerMonth: 3_889.5,
    computedAt: at('2026-03-01T10:00:00Z'),
    tasks: [
      {
        taskId: 't1',
        label: 'Extract invoice fields',
        agentName: 'billing-bot',
        callsPerDay: 714.2857,
        keywords: ['invoice', 'json'],
        suitability: {
          overall: 0.874,
          volume: 1,
          homogeneity: 0.9,
          outputConsistency: 0.8,
          contentCoverage: 0.95,
          successRate: 0.99,
          reasons: ['outputs follow one JSON schema'],
        },
        savings: {
          currency: 'USD',
          currentCostPerMonth: 4_000,
          projectedCostPerMonth: 300,
          savingsPerMonth: 3_700,
          currentLatencyP50: durationFromMs(850),
          currentLatencyP95: durationFromMs(2_100),
        },
        profile: { shareOfCalls: 0.4, shareOfSpend: 0.3 },
      },
      // Found, but not measured or priced yet.
      { taskId: 't2', label: 'Classify tickets', callsPerDay: 12 },
    ],
  });

  it('heads the tasks with their shares and saving in the currency, unmeasured figures as -', () => {
    const lines = savingsReportView(report, {}).split('\n');
    expect(lines[0]).toBe(
      'These 2 tasks carry 52.5% of calls and 35% of LLM spend (of $12,000.00/month); ' +
        'projected saving $3,889.50/month.',
    );
    expect(lines[1]).toBe('');
    expect(lines[2]).toMatch(
      /^LABEL\s+AGENT\s+CALLS\/DAY\s+SHARE OF CALLS\s+SHARE OF SPEND\s+SUITABILITY\s+CURRENT\/MO\s+SLM\/MO\s+SAVING\/MO\s+LATENCY P50$/,
    );
    expect(lines[3]).toMatch(
      /^Extract invoice fields\s+billing-bot\s+714\.3\s+40%\s+30%\s+0\.87\s+\$4,000\.00\s+\$300\.00\s+\$3,700\.00\s+850ms$/,
    );
    expect(lines[4]).toMatch(/^Classify tickets\s+-\s+12(\s+-){7}$/);
  });

  it('says so for one task and leaves out a tenant spend nobody measured', () => {
    const [first] = report.tasks;
    const one = create(SavingsReportSchema, {
      ...report,
      tenantCostPerMonth: 0,
      taskCount: 1,
      tasks: first ? [first] : [],
    });
    expect(savingsReportView(one, {}).split('\n')[0]).toBe(
      'This task carries 52.5% of calls and 35% of LLM spend; projected saving $3,889.50/month.',
    );
    expect(savingsReportView(create(SavingsReportSchema, { currency: 'USD' }), {})).toBe(
      'No tasks.\n',
    );
  });

  it('is plain JSON for charts: numbers, ISO times, milliseconds, null where unmeasured', () => {
    expect(savingsReportDocument(report)).toEqual({
      tenantId: 'acme',
      currency: 'USD',
      computedAt: '2026-03-01T10:00:00.000Z',
      totals: {
        tasks: 2,
        shareOfCalls: 0.525,
        shareOfSpend: 0.35,
        tenantCostPerMonth: 12_000,
        currentCostPerMonth: 4_200,
        projectedCostPerMonth: 310.5,
        savingsPerMonth: 3_889.5,
      },
      tasks: [
        {
          taskId: 't1',
          label: 'Extract invoice fields',
          keywords: ['invoice', 'json'],
          agentName: 'billing-bot',
          callsPerDay: 714.2857,
          shareOfCalls: 0.4,
          shareOfSpend: 0.3,
          suitability: {
            overall: 0.874,
            volume: 1,
            homogeneity: 0.9,
            outputConsistency: 0.8,
            contentCoverage: 0.95,
            successRate: 0.99,
          },
          savings: {
            currentCostPerMonth: 4_000,
            projectedCostPerMonth: 300,
            savingsPerMonth: 3_700,
            latencyP50Ms: 850,
            latencyP95Ms: 2_100,
          },
          reasons: ['outputs follow one JSON schema'],
        },
        {
          taskId: 't2',
          label: 'Classify tickets',
          keywords: [],
          agentName: '',
          callsPerDay: 12,
          shareOfCalls: null,
          shareOfSpend: null,
          suitability: null,
          savings: null,
          reasons: [],
        },
      ],
    });
  });
});
