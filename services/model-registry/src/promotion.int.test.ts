import { randomUUID } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  DatasetSplit,
  EvaluationKind,
  EvaluationSchema,
  EvaluationVerdict,
  ModelStage,
  PromotionGuardSchema,
  type AuditEvent,
  type ModelRegistryService,
  type ModelVersion,
  type ModelVersionEvent,
  type PromotionGuard,
  type RouteEvent,
} from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import type { Client } from '@understudy/grpc';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { postgresUrl, type RunningService } from '@understudy/service';
import { createDatabase, uniqueName } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { registeredVersion } from './testing/fixtures.js';
import { testToken } from './testing/principals.js';
import { startRegistry } from './testing/start.js';

/**
 * Who calls: the trainer registers and evaluates (and, to show that it still may not approve
 * its own versions, holds the approver role), alice promotes, bob and carol approve, the admin
 * sets policies.
 */
const roles = {
  trainer: 'approver',
  alice: 'writer',
  bob: 'approver',
  carol: 'approver',
  admin: 'admin',
} as const;
type Subject = keyof typeof roles;

let service: RunningService<typeof settings>;
let as: Record<Subject, Client<typeof ModelRegistryService>>;
/** The promoter's client, which most calls go through. */
let registry: Client<typeof ModelRegistryService>;
/** Another service on the same broker, reading what the registry publishes. */
let peer: Messaging;
const modelVersionEvents: ModelVersionEvent[] = [];
const routeEvents: RouteEvent[] = [];
const auditEvents: AuditEvent[] = [];

beforeAll(async () => {
  const { kafka, postgres } = inject('testbed');
  const database = await createDatabase(postgres, uniqueName('promotion'));
  const subjects = Object.keys(roles) as Subject[];
  const tokens = Object.fromEntries(
    subjects.map((subject) => [subject, testToken(subject)]),
  ) as Record<Subject, string>;
  const started = await startRegistry(kafka.brokers, postgresUrl(database), {
    principals: subjects.map((subject) => ({
      subject,
      token: tokens[subject],
      roles: [roles[subject]],
      tenants: ['*'],
    })),
  });
  service = started.service;
  as = Object.fromEntries(
    subjects.map((subject) => [subject, started.connect(tokens[subject])]),
  ) as Record<Subject, Client<typeof ModelRegistryService>>;
  registry = as.alice;
  peer = new Messaging({
    driver: new KafkaDriver({ brokers: kafka.brokers, clientId: uniqueName('peer') }),
    producerName: 'promotion-test',
  });
  const group = uniqueName('promotion-test');
  peer.on(topics.modelVersions, { group }, (event) => {
    modelVersionEvents.push(event);
  });
  peer.on(topics.routes, { group: `${group}-routes` }, (event) => {
    routeEvents.push(event);
  });
  peer.on(topics.audit, { group: `${group}-audit` }, (event) => {
    auditEvents.push(event);
  });
  await peer.start();
});

afterAll(async () => {
  for (const client of Object.values(as)) client.close();
  await peer.stop();
  await service.stop();
});

/** A tenant and task of their own per test, so that tests share nothing. */
function scope() {
  return { tenantId: uniqueName('tenant'), taskId: uniqueName('task') };
}

const version = async (tenantId: string, taskId: string): Promise<ModelVersion> =>
  (await registeredVersion(as.trainer, tenantId, taskId)).modelVersion;

function promote(
  modelVersion: ModelVersion,
  targetStage: ModelStage,
  options: { trafficPercent?: number; expectedRevision?: bigint; requestId?: string } = {},
) {
  return registry.promoteModelVersion({
    requestId: options.requestId ?? randomUUID(),
    tenantId: modelVersion.tenantId,
    modelVersionId: modelVersion.modelVersionId,
    targetStage,
    trafficPercent: options.trafficPercent ?? 0,
    expectedRevision: options.expectedRevision ?? 0n,
  });
}

function rollback(tenantId: string, taskId: string, expectedRevision = 0n) {
  return registry.rollbackRoute({
    requestId: randomUUID(),
    tenantId,
    taskId,
    reason: 'test: undo',
    expectedRevision,
  });
}

function evaluate(
  modelVersion: ModelVersion,
  datasetId: string,
  init: MessageInitShape<typeof EvaluationSchema>,
) {
  return as.trainer.createEvaluation({
    requestId: randomUUID(),
    evaluation: create(EvaluationSchema, {
      tenantId: modelVersion.tenantId,
      modelVersionId: modelVersion.modelVersionId,
      kind: EvaluationKind.OFFLINE,
      datasetId,
      split: DatasetSplit.EVAL,
      evaluatorVersion: 'json-field-match@1',
      teacherModel: 'gpt-4.1',
      exampleCount: 20n,
      ...init,
    }),
  });
}

async function setPolicy(tenantId: string, taskId: string, guards: PromotionGuard[]) {
  const { policy } = await registry.getPromotionPolicy({ tenantId, taskId });
  // The policy in force may be the tenant's default: a task's own starts without an etag.
  const etag = policy?.taskId === taskId ? policy.etag : '';
  return as.admin.updatePromotionPolicy({
    policy: { tenantId, taskId, guards, etag },
    updateMask: { paths: ['guards'] },
  });
}

const parity = create(PromotionGuardSchema, {
  stage: ModelStage.PRODUCTION,
  evaluationKind: EvaluationKind.OFFLINE,
  split: DatasetSplit.EVAL,
  evaluatorPrefix: 'json-field-match@',
  minMetrics: [{ metric: 'exact_match', min: 0.9 }],
  requirePassedVerdict: true,
});

const eventsOf = (tenantId: string) =>
  modelVersionEvents
    .filter((event) => event.meta?.tenantId === tenantId)
    .map((event) => [event.kind.case, event.modelVersionId]);

const revisionsOf = (tenantId: string) =>
  routeEvents.filter((event) => event.meta?.tenantId === tenantId).map((event) => event.revision);

describe('guarded promotion', () => {
  it('refuses a promotion until an evaluation meets the policy, and says why', async () => {
    const { tenantId, taskId } = scope();
    const { modelVersion: v1, dataset } = await registeredVersion(as.trainer, tenantId, taskId);
    const { policy } = await setPolicy(tenantId, taskId, [parity]);
    expect(policy).toMatchObject({ tenantId, taskId, guards: [parity], etag: 'v1' });

    const refusal = {
      code: ErrorCode.FailedPrecondition,
      message: expect.stringContaining(
        'no OFFLINE evaluation on EVAL by json-field-match@* was recorded',
      ) as unknown,
      details: {
        guardResults: [
          {
            guard: expect.stringContaining('PRODUCTION needs OFFLINE evaluation') as unknown,
            violations: ['no OFFLINE evaluation on EVAL by json-field-match@* was recorded'],
          },
        ],
      },
    };
    await expect(promote(v1, ModelStage.PRODUCTION)).rejects.toMatchObject(refusal);
    // Skipping stages skips no guard; guards of later stages do not hold earlier ones back.
    await expect(promote(v1, ModelStage.CANARY, { trafficPercent: 5 })).resolves.toMatchObject({
      guardResults: [],
    });

    const { evaluation: weak } = await evaluate(v1, dataset.datasetId, {
      metrics: { exact_match: 0.84 },
      verdict: EvaluationVerdict.FAILED,
    });
    expect(weak).toMatchObject({ createdBy: 'trainer', split: DatasetSplit.EVAL });
    await expect(promote(v1, ModelStage.PRODUCTION)).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringMatching(
        /exact_match is 0\.84, below 0\.9; evaluation \S+ has verdict FAILED/,
      ) as unknown,
    });

    // A dry run shows the verdict without changing anything.
    await evaluate(v1, dataset.datasetId, {
      metrics: { exact_match: 0.95 },
      verdict: EvaluationVerdict.PASSED,
    });
    const current = (
      await registry.getModelVersion({ tenantId, modelVersionId: v1.modelVersionId })
    ).modelVersion;
    const dryRun = await registry.promoteModelVersion({
      tenantId,
      modelVersionId: v1.modelVersionId,
      targetStage: ModelStage.PRODUCTION,
      validateOnly: true,
    });
    expect(dryRun.modelVersion).toEqual(current);
    expect(dryRun.guardResults).toEqual([
      expect.objectContaining({ passed: true, violations: [] }),
    ]);

    const promoted = await promote(v1, ModelStage.PRODUCTION);
    expect(promoted.modelVersion?.stage).toBe(ModelStage.PRODUCTION);
    expect(promoted.guardResults).toEqual([expect.objectContaining({ passed: true })]);

    // The evaluations, as recorded and listed.
    const listed = await registry.listEvaluations({
      tenantId,
      modelVersionId: v1.modelVersionId,
      pageSize: 1,
    });
    expect(listed.evaluations.map((e) => e.metrics['exact_match'])).toEqual([0.95]);
    const next = await registry.listEvaluations({
      tenantId,
      modelVersionId: v1.modelVersionId,
      pageSize: 1,
      pageToken: listed.nextPageToken,
    });
    expect(next.evaluations.map((e) => e.metrics['exact_match'])).toEqual([0.84]);
    expect(next.nextPageToken).toBe('');
    expect(
      (await registry.listEvaluations({ tenantId, kind: EvaluationKind.SHADOW })).evaluations,
    ).toEqual([]);
    expect(
      (await registry.getEvaluation({ tenantId, evaluationId: weak?.evaluationId ?? '' }))
        .evaluation,
    ).toEqual(weak);

    await expect
      .poll(() => eventsOf(tenantId).map(([kind]) => kind), { timeout: 15_000 })
      .toEqual(['registered', 'promoted', 'evaluated', 'evaluated', 'promoted']);
    await expect
      .poll(
        () =>
          auditEvents
            .filter((event) => event.entry?.tenantId === tenantId)
            .map((event) => event.entry?.action),
        { timeout: 15_000 },
      )
      .toEqual(
        expect.arrayContaining([
          'UpdatePromotionPolicy',
          'CreateEvaluation',
          'PromoteModelVersion',
        ]),
      );
  });

  it('records an evaluation once per request_id, for a version and dataset of the tenant', async () => {
    const { tenantId, taskId } = scope();
    const { modelVersion, dataset } = await registeredVersion(as.trainer, tenantId, taskId);
    const request = {
      requestId: randomUUID(),
      evaluation: create(EvaluationSchema, {
        tenantId,
        modelVersionId: modelVersion.modelVersionId,
        kind: EvaluationKind.OFFLINE,
        datasetId: dataset.datasetId,
        split: DatasetSplit.EVAL,
        evaluatorVersion: 'json-field-match@1',
        metrics: { exact_match: 0.9 },
      }),
    };
    const first = await as.trainer.createEvaluation(request);
    expect(await as.trainer.createEvaluation(request)).toEqual(first);
    await expect(
      as.trainer.createEvaluation({
        ...request,
        evaluation: { ...request.evaluation, metrics: { exact_match: 0.99 } },
      }),
    ).rejects.toMatchObject({ code: ErrorCode.AlreadyExists });

    const other = scope();
    await expect(
      evaluate({ ...modelVersion, tenantId: other.tenantId }, dataset.datasetId, {}),
    ).rejects.toMatchObject({ code: ErrorCode.NotFound });
    const { dataset: foreign } = await registeredVersion(as.trainer, tenantId, uniqueName('task'));
    await expect(evaluate(modelVersion, foreign.datasetId, {})).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringContaining('belongs to task') as unknown,
    });
    await expect(
      evaluate(modelVersion, dataset.datasetId, { split: DatasetSplit.UNSPECIFIED }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });

  it('applies the tenant default to tasks without a policy, and guards policy updates by etag', async () => {
    const { tenantId, taskId } = scope();
    const empty = await registry.getPromotionPolicy({ tenantId, taskId });
    expect(empty.policy).toMatchObject({ tenantId, taskId, guards: [], etag: '' });

    const approvals = create(PromotionGuardSchema, {
      stage: ModelStage.CANARY,
      requiredApprovals: 1,
    });
    const tenantDefault = (await setPolicy(tenantId, '', [approvals])).policy;
    expect((await registry.getPromotionPolicy({ tenantId, taskId })).policy).toEqual(tenantDefault);
    const own = (await setPolicy(tenantId, taskId, [parity])).policy;
    expect((await registry.getPromotionPolicy({ tenantId, taskId })).policy).toEqual(own);

    const stale = { tenantId, taskId, guards: [approvals], etag: 'v0' };
    await expect(as.admin.updatePromotionPolicy({ policy: stale })).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
    await expect(
      as.admin.updatePromotionPolicy({ policy: { ...stale, etag: '' } }),
    ).rejects.toMatchObject({ code: ErrorCode.Aborted });
    await expect(
      as.admin.updatePromotionPolicy({
        policy: { tenantId, taskId, guards: [{ stage: ModelStage.CANARY }], etag: own?.etag ?? '' },
      }),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringContaining('guards[0] requires nothing') as unknown,
    });
    await expect(
      as.admin.updatePromotionPolicy({
        policy: { tenantId, taskId, guards: [approvals], etag: own?.etag ?? '' },
        updateMask: { paths: ['etag'] },
      }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });

    // No guards removes the task's own policy: the tenant default applies again.
    await as.admin.updatePromotionPolicy({
      policy: { tenantId, taskId, guards: [], etag: own?.etag ?? '' },
    });
    expect((await registry.getPromotionPolicy({ tenantId, taskId })).policy).toEqual(tenantDefault);
    const v1 = await version(tenantId, taskId);
    await expect(promote(v1, ModelStage.SHADOW, { trafficPercent: 5 })).resolves.toBeDefined();
    await expect(promote(v1, ModelStage.CANARY, { trafficPercent: 5 })).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringContaining('0 of 1 approvals for CANARY') as unknown,
    });
  });

  it('counts approvals of others than the registrant and the promoter, for the version as approved', async () => {
    const { tenantId, taskId } = scope();
    await setPolicy(tenantId, taskId, [
      create(PromotionGuardSchema, { stage: ModelStage.CANARY, requiredApprovals: 2 }),
    ]);
    const v1 = await version(tenantId, taskId);
    expect(v1.registeredBy).toBe('trainer');
    const approve = (
      approver: Subject,
      init: { requestId?: string; etag?: string; comment?: string } = {},
    ) =>
      as[approver].approveModelVersion({
        requestId: init.requestId ?? randomUUID(),
        tenantId,
        modelVersionId: v1.modelVersionId,
        targetStage: ModelStage.CANARY,
        etag: init.etag ?? v1.etag,
        comment: init.comment ?? 'looks right',
      });

    await expect(approve('trainer')).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringContaining('trainer registered model version') as unknown,
    });
    await expect(approve('alice')).rejects.toMatchObject({ code: ErrorCode.PermissionDenied });
    await expect(approve('bob', { etag: 'v0' })).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
    const requestId = randomUUID();
    const byBob = await approve('bob', { requestId });
    expect(byBob.approval).toMatchObject({
      approver: 'bob',
      modelVersionEtag: v1.etag,
      targetStage: ModelStage.CANARY,
    });
    expect(await approve('bob', { requestId })).toEqual(byBob);
    await expect(approve('bob', { requestId, comment: 'changed my mind' })).rejects.toMatchObject({
      code: ErrorCode.AlreadyExists,
    });

    const canary = (promoter: Subject) =>
      as[promoter].promoteModelVersion({
        requestId: randomUUID(),
        tenantId,
        modelVersionId: v1.modelVersionId,
        targetStage: ModelStage.CANARY,
        trafficPercent: 10,
      });
    await expect(canary('alice')).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringContaining('1 of 2 approvals for CANARY') as unknown,
    });
    await approve('carol');
    // Bob's own approval does not count once he is the promoter.
    await expect(canary('bob')).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringContaining('1 of 2 approvals') as unknown,
    });
    const promoted = await canary('alice');
    expect(promoted.modelVersion).toMatchObject({ stage: ModelStage.CANARY, trafficPercent: 10 });

    // The version changed: the approvals were for the version as it was.
    await expect(promote(v1, ModelStage.CANARY, { trafficPercent: 20 })).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringContaining(
        `0 of 2 approvals for CANARY at etag ${promoted.modelVersion?.etag ?? ''}`,
      ) as unknown,
    });
    await expect
      .poll(() => eventsOf(tenantId).map(([kind]) => kind), { timeout: 15_000 })
      .toEqual(['registered', 'approved', 'approved', 'promoted']);
    await expect
      .poll(
        () =>
          auditEvents
            .filter(
              (event) =>
                event.entry?.tenantId === tenantId && event.entry.action === 'ApproveModelVersion',
            )
            .map((event) => event.entry?.actor),
        { timeout: 15_000 },
      )
      .toEqual(['bob', 'carol']);
  });
});

describe('routes', () => {
  it('keep their id and tuning from stage to stage, and are tuned by etag', async () => {
    const { tenantId, taskId } = scope();
    const v1 = await version(tenantId, taskId);
    const shadow = await promote(v1, ModelStage.SHADOW, { trafficPercent: 50 });
    const [route] = shadow.routes;
    if (route === undefined) throw new Error('no route');
    expect((await registry.getRoute({ tenantId, routeId: route.routeId })).route).toEqual(route);

    const tuned = await registry.updateRoute({
      route: { ...route, minConfidence: 0.8, endpoint: 'http://slm-b.test:8000/v1' },
      updateMask: { paths: ['min_confidence', 'endpoint'] },
    });
    expect(tuned.route).toMatchObject({ minConfidence: 0.8, etag: 'v2' });
    expect(tuned.revision).toBeGreaterThan(shadow.revision);
    await expect(
      registry.updateRoute({
        route: { ...route, minConfidence: 0.9 },
        updateMask: { paths: ['min_confidence'] },
      }),
    ).rejects.toMatchObject({ code: ErrorCode.Aborted });
    await expect(
      registry.updateRoute({
        route: { ...route, etag: '', endpoint: 'http://user:secret@slm.test:8000/v1' },
        updateMask: { paths: ['endpoint'] },
      }),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringContaining('credentials') as unknown,
    });

    // Promoted, the version keeps its route: same id, same tuning.
    const canary = await promote(v1, ModelStage.CANARY, { trafficPercent: 10 });
    expect(canary.routes).toEqual([
      expect.objectContaining({
        routeId: route.routeId,
        stage: ModelStage.CANARY,
        trafficPercent: 10,
        minConfidence: 0.8,
        endpoint: 'http://slm-b.test:8000/v1',
      }),
    ]);
    // A new share through the route moves the version with it.
    const wider = await registry.updateRoute({
      route: { ...route, etag: '', trafficPercent: 25 },
      updateMask: { paths: ['traffic_percent'] },
    });
    expect(wider.route?.trafficPercent).toBe(25);
    const { modelVersion } = await registry.getModelVersion({
      tenantId,
      modelVersionId: v1.modelVersionId,
    });
    expect(modelVersion).toMatchObject({ stage: ModelStage.CANARY, trafficPercent: 25 });

    const production = await promote(v1, ModelStage.PRODUCTION);
    expect(production.routes.map((r) => [r.routeId, r.trafficPercent])).toEqual([
      [route.routeId, 100],
    ]);
    await expect(
      registry.updateRoute({
        route: { ...route, etag: '', trafficPercent: 50 },
        updateMask: { paths: ['traffic_percent'] },
      }),
    ).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });

    const v2 = await version(tenantId, taskId);
    await promote(v2, ModelStage.SHADOW, { trafficPercent: 5 });
    const all = await registry.listRoutes({ tenantId, taskId, orderBy: 'traffic_percent' });
    expect(all.routes.map((r) => r.trafficPercent)).toEqual([5, 100]);
    const shadows = await registry.listRoutes({ tenantId, stages: [ModelStage.SHADOW] });
    expect(shadows.routes.map((r) => r.modelVersionId)).toEqual([v2.modelVersionId]);
  });
});

describe('rollback', () => {
  it('withdraws the canary, then restores the former production version, then the LLM', async () => {
    const { tenantId, taskId } = scope();
    const [v1, v2, v3] = [
      await version(tenantId, taskId),
      await version(tenantId, taskId),
      await version(tenantId, taskId),
    ];
    const first = await promote(v1, ModelStage.PRODUCTION);
    const v1Route = first.routes[0];
    if (v1Route === undefined) throw new Error('no route');
    await registry.updateRoute({
      route: { ...v1Route, minConfidence: 0.7 },
      updateMask: { paths: ['min_confidence'] },
    });
    await promote(v2, ModelStage.PRODUCTION);
    const canary = await promote(v3, ModelStage.CANARY, { trafficPercent: 10 });

    await expect(rollback(tenantId, taskId, canary.revision - 1n)).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
    const withdrawn = await rollback(tenantId, taskId, canary.revision);
    expect(withdrawn.routes.map((r) => [r.modelVersionId, r.stage])).toEqual([
      [v2.modelVersionId, ModelStage.PRODUCTION],
    ]);

    // The former production version returns with the route it had, its tuning included.
    const restored = await rollback(tenantId, taskId);
    expect(restored.routes).toEqual([
      expect.objectContaining({
        routeId: v1Route.routeId,
        modelVersionId: v1.modelVersionId,
        stage: ModelStage.PRODUCTION,
        minConfidence: 0.7,
      }),
    ]);
    const stages = async () =>
      (
        await registry.listModelVersions({ tenantId, taskId, orderBy: 'version' })
      ).modelVersions.map((mv) => mv.stage);
    expect(await stages()).toEqual([
      ModelStage.PRODUCTION,
      ModelStage.REGISTERED,
      ModelStage.REGISTERED,
    ]);

    const toLlm = await rollback(tenantId, taskId);
    expect(toLlm.routes).toEqual([]);
    expect(await stages()).toEqual([
      ModelStage.REGISTERED,
      ModelStage.REGISTERED,
      ModelStage.REGISTERED,
    ]);
    await expect(rollback(tenantId, taskId)).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringContaining('no route to roll back') as unknown,
    });

    await expect
      .poll(() => eventsOf(tenantId).slice(7), { timeout: 15_000 })
      .toEqual([
        ['rolledBack', v3.modelVersionId],
        ['rolledBack', v2.modelVersionId],
        ['promoted', v1.modelVersionId],
        ['rolledBack', v1.modelVersionId],
      ]);
    await expect
      .poll(() => revisionsOf(tenantId).slice(-3), { timeout: 15_000 })
      .toEqual([withdrawn.revision, restored.revision, toLlm.revision]);
    const rolledBack = modelVersionEvents.find(
      (event) => event.kind.case === 'rolledBack' && event.modelVersionId === v3.modelVersionId,
    );
    expect(rolledBack?.kind.value).toMatchObject({
      fromStage: ModelStage.CANARY,
      toStage: ModelStage.REGISTERED,
      reason: 'test: undo',
    });
  });

  it('skips retired versions on the way back', async () => {
    const { tenantId, taskId } = scope();
    const [v1, v2, v3] = [
      await version(tenantId, taskId),
      await version(tenantId, taskId),
      await version(tenantId, taskId),
    ];
    for (const v of [v1, v2, v3]) await promote(v, ModelStage.PRODUCTION);
    await registry.retireModelVersion({ tenantId, modelVersionId: v2.modelVersionId });
    const { routes } = await rollback(tenantId, taskId);
    expect(routes.map((r) => r.modelVersionId)).toEqual([v1.modelVersionId]);
  });
});

describe('concurrency and retries', () => {
  it('lets one of two versions racing to production on one revision win; the other is ABORTED', async () => {
    const { tenantId, taskId } = scope();
    const [v1, v2] = [await version(tenantId, taskId), await version(tenantId, taskId)];
    const { routingTable } = await registry.getRoutingTable({ tenantId });
    const expectedRevision = routingTable?.revision ?? 0n;
    const outcomes = await Promise.allSettled(
      [v1, v2].map((v) => promote(v, ModelStage.PRODUCTION, { expectedRevision })),
    );
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(outcomes.find((outcome) => outcome.status === 'rejected')?.reason).toMatchObject({
      code: ErrorCode.Aborted,
      message: expect.stringContaining('read them again') as unknown,
    });
    const winner = won[0]?.value.modelVersion?.modelVersionId;
    const table = await registry.getRoutingTable({ tenantId });
    expect(table.routingTable?.routes.map((r) => r.modelVersionId)).toEqual([winner]);
    await expect
      .poll(() => eventsOf(tenantId).filter(([kind]) => kind === 'promoted'), {
        timeout: 15_000,
      })
      .toEqual([['promoted', winner]]);
  });

  it('lets one of a promotion and a rollback decided on one revision win', async () => {
    const { tenantId, taskId } = scope();
    const [v1, v2] = [await version(tenantId, taskId), await version(tenantId, taskId)];
    const { revision } = await promote(v1, ModelStage.PRODUCTION);
    const outcomes = await Promise.allSettled([
      promote(v2, ModelStage.CANARY, { trafficPercent: 10, expectedRevision: revision }),
      rollback(tenantId, taskId, revision),
    ]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(outcomes.find((outcome) => outcome.status === 'rejected')?.reason).toMatchObject({
      code: ErrorCode.Aborted,
    });
    const { routingTable } = await registry.getRoutingTable({ tenantId });
    const routes = (routingTable?.routes ?? [])
      .map((r) => `${r.modelVersionId} ${ModelStage[r.stage]}`)
      .sort();
    // Either the canary joined production, or production was rolled back to the LLM.
    const promoted = [`${v1.modelVersionId} PRODUCTION`, `${v2.modelVersionId} CANARY`].sort();
    expect([promoted, []]).toContainEqual(routes);
  });

  it('answers a retried promotion with its first response, without applying it again', async () => {
    const { tenantId, taskId } = scope();
    const v1 = await version(tenantId, taskId);
    const requestId = randomUUID();
    const first = await promote(v1, ModelStage.CANARY, { trafficPercent: 10, requestId });
    const wider = await promote(v1, ModelStage.CANARY, { trafficPercent: 20 });

    // A late retry of the first request: its answer again, and the canary keeps 20 %.
    expect(await promote(v1, ModelStage.CANARY, { trafficPercent: 10, requestId })).toEqual(first);
    const { modelVersion } = await registry.getModelVersion({
      tenantId,
      modelVersionId: v1.modelVersionId,
    });
    expect(modelVersion?.trafficPercent).toBe(20);
    const { routingTable } = await registry.getRoutingTable({ tenantId });
    expect(routingTable?.revision).toBe(wider.revision);
    await expect(
      promote(v1, ModelStage.CANARY, { trafficPercent: 30, requestId }),
    ).rejects.toMatchObject({ code: ErrorCode.AlreadyExists });

    const rollbackRequest = {
      requestId: randomUUID(),
      tenantId,
      taskId,
      reason: 'test: undo',
    };
    const undone = await registry.rollbackRoute(rollbackRequest);
    expect(await registry.rollbackRoute(rollbackRequest)).toEqual(undone);
    expect((await registry.getRoutingTable({ tenantId })).routingTable?.revision).toBe(
      undone.revision,
    );
  });
});
