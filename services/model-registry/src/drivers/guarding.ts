import type { GuardResult, ModelStage } from '@understudy/contracts';
import type { EntityManager } from 'typeorm';
import { checkGuards } from '../domain/guards.js';
import { approvalsOf } from './approvals.js';
import type { Actor } from './changes.js';
import type { ModelVersionRow } from './entities.js';
import { evaluationsOf } from './evaluations.js';
import { etagOf } from './mapping.js';
import { policyInForce } from './policies.js';

/**
 * The promotion policy's verdict on moving a version into `target`, read in the change's
 * transaction under the task lock, so that the evaluations and approvals it counted are the
 * ones the change commits against.
 */
export async function guardResults(
  manager: EntityManager,
  row: ModelVersionRow,
  target: ModelStage,
  promoter: Actor,
): Promise<GuardResult[]> {
  const { tenantId, taskId, modelVersionId } = row;
  const policy = await policyInForce(manager, tenantId, taskId);
  if (policy.guards.length === 0) return [];
  return checkGuards(policy.guards, {
    target,
    modelVersion: { etag: etagOf(row.rowVersion), registeredBy: row.registeredBy },
    promoter,
    evaluations: await evaluationsOf(manager, tenantId, modelVersionId),
    approvals: await approvalsOf(manager, tenantId, modelVersionId),
  });
}
