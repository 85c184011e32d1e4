import type { EntityManager } from 'typeorm';
import { notFound } from '../domain/validation.js';
import { ModelVersionRow } from './entities.js';

/**
 * Serialises the transactions that change one task's datasets, versions or routes (version
 * numbers, one version per serving stage). Released at commit or rollback.
 */
export async function lockTask(manager: EntityManager, tenantId: string, taskId: string) {
  await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
    `registry:task:${tenantId}:${taskId}`,
  ]);
}

/** The next `version` of a task's rows in `table` (1 for the first). */
export async function nextVersion(
  manager: EntityManager,
  table: 'dataset' | 'model_version',
  tenantId: string,
  taskId: string,
): Promise<number> {
  const [row] = await manager.query<{ next: number }[]>(
    `SELECT COALESCE(MAX(version), 0) + 1 AS next FROM ${table} WHERE tenant_id = $1 AND task_id = $2`,
    [tenantId, taskId],
  );
  return row?.next ?? 1;
}

/**
 * Locks the task of a model version, then reads the version as it is under that lock (a version
 * never changes task). NOT_FOUND when the tenant has no such version.
 */
export async function lockModelVersion(
  manager: EntityManager,
  tenantId: string,
  modelVersionId: string,
): Promise<ModelVersionRow> {
  const located = await manager.findOne(ModelVersionRow, {
    where: { tenantId, modelVersionId },
    select: { taskId: true },
  });
  if (located === null) throw notFound('model version', modelVersionId);
  await lockTask(manager, tenantId, located.taskId);
  return manager.findOneByOrFail(ModelVersionRow, { tenantId, modelVersionId });
}
