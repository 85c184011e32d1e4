import type { EntityManager } from 'typeorm';

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
