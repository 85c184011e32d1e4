import { randomUUID } from 'node:crypto';
import {
  ApproveModelVersionResponseSchema,
  ModelStage,
  ModelStageSchema,
  PromoteModelVersionResponseSchema,
  RollbackRouteResponseSchema,
  type ModelVersion,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { command, type RegistryClient } from '../command.js';
import { enumValue } from '../enums.js';
import { UsageError } from '../failure.js';
import { enumLabel } from '../format/values.js';
import { approvalView, dryRunView, promotionView, rollbackView } from '../views/promotion.js';

const servingStages = [ModelStage.SHADOW, ModelStage.CANARY, ModelStage.PRODUCTION];

async function readVersion(
  registry: RegistryClient,
  tenantId: string,
  modelVersionId: string,
): Promise<ModelVersion> {
  const { modelVersion } = await registry.getModelVersion({ tenantId, modelVersionId });
  if (modelVersion === undefined) {
    throw new UnderstudyError(ErrorCode.NotFound, `model version ${modelVersionId} not found`);
  }
  return modelVersion;
}

/**
 * The routing revision the caller decides on. Sent as expected_revision, it makes the change
 * fail with ABORTED if the task's routes moved meanwhile, instead of overriding someone else's.
 */
async function routingRevision(registry: RegistryClient, tenantId: string): Promise<bigint> {
  const { routingTable } = await registry.getRoutingTable({ tenantId });
  return routingTable?.revision ?? 0n;
}

export const promote = command({
  summary: 'Move a model version to shadow, canary or production',
  description:
    'Reads the version and the routing table first and sends their etag and revision, so that ' +
    'the promotion fails (exit 4) rather than override a change made meanwhile. The promotion ' +
    "policy's guards must pass; --dry-run checks them and the transition without changing " +
    'anything. Promoting to production sends the former production version back to registered ' +
    'and keeps it as the rollback target.',
  positionals: [{ name: 'model-version-id' }],
  options: {
    to: {
      type: 'string',
      required: true,
      value: 'STAGE',
      description: 'shadow, canary or production',
    },
    percent: {
      type: 'string',
      value: 'N',
      description: 'Share of the calls, 1 to 100, a canary answers or a shadow mirrors',
    },
    'dry-run': { type: 'boolean', description: 'Check the guards and the move; change nothing' },
    reason: { type: 'string', value: 'TEXT', description: 'Why, for the audit log' },
  },
  examples: [
    'understudy registry promote 0b7e4c1a-… --to canary --percent 10 --reason "eval passed"',
    'understudy registry promote 0b7e4c1a-… --to production --dry-run',
  ],
  run: async ({ registry, tenantId, output }, args) => {
    const modelVersionId = args.argument('model-version-id');
    const targetStage = enumValue(ModelStageSchema, 'to', args.required('to'), servingStages);
    const trafficPercent = args.integer('percent', { min: 1, max: 100 });
    const production = targetStage === ModelStage.PRODUCTION;
    if (production && trafficPercent !== undefined) {
      throw new UsageError('--percent applies to shadow and canary; production takes the rest');
    }
    if (!production && trafficPercent === undefined) {
      throw new UsageError(`--percent is required for ${enumLabel(ModelStageSchema, targetStage)}`);
    }
    const version = await readVersion(registry, tenantId, modelVersionId);
    const dryRun = args.flag('dry-run');
    const response = await registry.promoteModelVersion({
      requestId: randomUUID(),
      tenantId: version.tenantId,
      modelVersionId,
      targetStage,
      trafficPercent: trafficPercent ?? 0,
      etag: version.etag,
      reason: args.string('reason') ?? '',
      expectedRevision: await routingRevision(registry, version.tenantId),
      validateOnly: dryRun,
    });
    const target = enumLabel(ModelStageSchema, targetStage);
    if (!dryRun) {
      output.print(PromoteModelVersionResponseSchema, response, promotionView);
      return;
    }
    output.print(PromoteModelVersionResponseSchema, response, (r, layout) =>
      dryRunView(r, target, layout),
    );
    const failed = response.guardResults.filter((g) => !g.passed);
    if (failed.length > 0) {
      // Scripts gate on the exit status: a dry run that would be refused exits as the refusal would.
      throw new UnderstudyError(
        ErrorCode.FailedPrecondition,
        `${modelVersionId} may not move to ${target}`,
        {
          details: {
            violations: failed.flatMap((g) => g.violations.map((v) => `${g.guard}: ${v}`)),
          },
        },
      );
    }
  },
});

export const rollback = command({
  summary: "Undo a task's last promotion",
  description:
    'Removes the canary or shadow route if the task has one; otherwise puts the previous ' +
    'production version back; with none, the calls go to the LLM again. Sends the routing ' +
    'revision it read, so that it fails (exit 4) if the routes changed meanwhile.',
  options: {
    task: { type: 'string', required: true, value: 'ID', description: 'The task to roll back' },
    reason: { type: 'string', value: 'TEXT', description: 'Why, for the audit log' },
  },
  examples: ['understudy registry rollback --task 6f1c2d9e-… --reason "canary error rate"'],
  run: async ({ registry, tenantId, output }, args) => {
    const taskId = args.required('task');
    const response = await registry.rollbackRoute({
      requestId: randomUUID(),
      tenantId,
      taskId,
      reason: args.string('reason') ?? '',
      expectedRevision: await routingRevision(registry, tenantId),
    });
    output.print(RollbackRouteResponseSchema, response, (r, layout) =>
      rollbackView(r, taskId, layout),
    );
  },
});

export const approve = command({
  summary: 'Approve a model version for a stage, where the promotion policy asks for approvals',
  description:
    'The approval holds for the version as read now (its etag); a later change of the version ' +
    'voids it. The approver must be neither the registrant nor the promoter.',
  positionals: [{ name: 'model-version-id' }],
  options: {
    for: {
      type: 'string',
      required: true,
      value: 'STAGE',
      description: 'shadow, canary or production',
    },
    comment: { type: 'string', value: 'TEXT', description: 'What was checked, for the record' },
  },
  examples: [
    'understudy registry approve 0b7e4c1a-… --for production --comment "reviewed eval report"',
  ],
  run: async ({ registry, tenantId, output }, args) => {
    const modelVersionId = args.argument('model-version-id');
    const targetStage = enumValue(ModelStageSchema, 'for', args.required('for'), servingStages);
    const version = await readVersion(registry, tenantId, modelVersionId);
    const response = await registry.approveModelVersion({
      requestId: randomUUID(),
      tenantId: version.tenantId,
      modelVersionId,
      targetStage,
      etag: version.etag,
      comment: args.string('comment') ?? '',
    });
    output.print(ApproveModelVersionResponseSchema, response, approvalView);
  },
});
