import { create, fromJson, toJson, type JsonValue } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  PromotionGuardSchema,
  PromotionPolicySchema,
  ResourceType,
  type PromotionPolicy,
} from '@understudy/contracts';
import { rethrowDatabaseError } from '@understudy/database';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { DataSource, EntityManager } from 'typeorm';
import { validateGuards } from '../domain/guards.js';
import { requireFields } from '../domain/validation.js';
import { inChange, type Actor } from './changes.js';
import { PromotionPolicyRow } from './entities.js';
import { etagOf } from './mapping.js';

export interface PolicyUpdate {
  /** Identified by tenant_id and task_id ('' for the tenant's default); etag as read. */
  readonly policy: PromotionPolicy;
  readonly updateMask: readonly string[];
  readonly actor: Actor;
}

/** The audit log's id of a policy: its task, or `*` for the tenant's default. */
const policyResourceId = (taskId: string): string => (taskId === '' ? '*' : taskId);

function policyOf(row: PromotionPolicyRow): PromotionPolicy {
  const guards = Array.isArray(row.guards) ? (row.guards as JsonValue[]) : [];
  return create(PromotionPolicySchema, {
    tenantId: row.tenantId,
    taskId: row.taskId,
    guards: guards.map((guard) => fromJson(PromotionGuardSchema, guard)),
    etag: etagOf(row.rowVersion),
    updatedAt: timestampFromDate(row.updatedAt),
    updatedBy: row.updatedBy,
  });
}

/**
 * The guards on a task's promotions: the task's own policy, else the tenant's default (task_id
 * ''), else a policy with no guards, under which promotions are unguarded.
 */
export async function policyInForce(
  manager: EntityManager,
  tenantId: string,
  taskId: string,
): Promise<PromotionPolicy> {
  const rows = await manager.find(PromotionPolicyRow, {
    where: [
      { tenantId, taskId },
      { tenantId, taskId: '' },
    ],
  });
  const row = rows.find((r) => r.taskId === taskId) ?? rows.find((r) => r.taskId === '');
  return row === undefined ? create(PromotionPolicySchema, { tenantId, taskId }) : policyOf(row);
}

const stale = (taskId: string, etag: string) =>
  new UnderstudyError(
    ErrorCode.Aborted,
    `the promotion policy of ${taskId === '' ? 'the tenant' : `task ${taskId}`} changed since ` +
      `it was read (etag "${etag}"); read it again`,
    { retryable: false },
  );

/** Promotion policies: per tenant, with per-task overrides; with none, promotions are unguarded. */
export class PolicyStore {
  constructor(private readonly dataSource: DataSource) {}

  async get(tenantId: string, taskId: string): Promise<PromotionPolicy> {
    requireFields({ tenant_id: tenantId });
    return policyInForce(this.dataSource.manager, tenantId, taskId).catch(rethrowDatabaseError);
  }

  /**
   * Replaces a policy's guards; no guards removes it. The etag must be the stored one, or empty
   * when there is none yet, so that concurrent administrators cannot overwrite each other.
   */
  async update(input: PolicyUpdate): Promise<PromotionPolicy> {
    const { policy, actor } = input;
    const { tenantId, taskId, etag, guards } = policy;
    requireFields({ tenant_id: tenantId });
    const unknown = input.updateMask.filter((path) => path !== 'guards');
    if (unknown.length > 0) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `update_mask may name guards only, not ${unknown.join(', ')}`,
      );
    }
    validateGuards(guards);
    return inChange(this.dataSource, actor, async (manager, log) => {
      const existing = await manager.findOneBy(PromotionPolicyRow, { tenantId, taskId });
      if (etag !== (existing === null ? '' : etagOf(existing.rowVersion))) {
        throw stale(taskId, etag);
      }
      const audit = (details: Record<string, JsonValue>) => {
        log.audit({
          tenantId,
          action: 'UpdatePromotionPolicy',
          resourceType: ResourceType.PROMOTION_POLICY,
          resourceId: policyResourceId(taskId),
          details,
        });
      };
      if (guards.length === 0) {
        if (existing === null) return create(PromotionPolicySchema, { tenantId, taskId });
        const removed = await manager.delete(PromotionPolicyRow, {
          tenantId,
          taskId,
          rowVersion: existing.rowVersion,
        });
        if (removed.affected === 0) throw stale(taskId, etag);
        audit({ removed: true });
        return create(PromotionPolicySchema, { tenantId, taskId });
      }
      const row: PromotionPolicyRow = {
        tenantId,
        taskId,
        guards: guards.map((guard) => toJson(PromotionGuardSchema, guard)),
        rowVersion: (existing?.rowVersion ?? 0) + 1,
        updatedAt: new Date(),
        updatedBy: actor,
      };
      if (!(await writePolicy(manager, row, existing?.rowVersion))) throw stale(taskId, etag);
      audit({ guards: row.guards as JsonValue });
      return policyOf(row);
    });
  }
}

/**
 * Creates the policy, or updates it from `previous`; false when a concurrent administrator
 * created or changed it first (the write is conditional, so that one then changes nothing).
 */
async function writePolicy(
  manager: EntityManager,
  row: PromotionPolicyRow,
  previous: number | undefined,
): Promise<boolean> {
  if (previous === undefined) {
    const inserted = await manager
      .createQueryBuilder()
      .insert()
      .into(PromotionPolicyRow)
      .values(row)
      .orIgnore()
      .returning('task_id')
      .execute();
    return (inserted.raw as unknown[]).length > 0;
  }
  const { tenantId, taskId, guards, rowVersion, updatedAt, updatedBy } = row;
  const updated = await manager.update(
    PromotionPolicyRow,
    { tenantId, taskId, rowVersion: previous },
    { guards, rowVersion, updatedAt, updatedBy },
  );
  return (updated.affected ?? 0) > 0;
}
