import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Task columns that ListTasks filters and sorts on, filled from the task's body. */
const taskColumns = [
  ['agent_name', 'text', `COALESCE(body->>'agentName', '')`],
  ['suitability', 'double precision', `COALESCE((body->'suitability'->>'overall')::float8, 0)`],
  [
    'savings_per_month',
    'double precision',
    `COALESCE((body->'savings'->>'savingsPerMonth')::float8, 0)`,
  ],
  ['call_count', 'bigint', `COALESCE((body->>'callCount')::bigint, 0)`],
  // Milliseconds, as page tokens carry them; an unset time is the epoch, proto's zero value.
  [
    'last_seen_at',
    'timestamptz',
    `COALESCE(date_trunc('milliseconds', (body->>'lastSeenAt')::timestamptz), 'epoch')`,
  ],
] as const;

/** Model version columns of licence, footprint and registrant; older versions have none. */
const modelVersionColumns = [
  ['license', 'text', `''`],
  ['registered_by', 'text', `''`],
  ['footprint', 'jsonb', `'{}'`],
] as const;

/**
 * Every list's sort orders, each as an index whose last column is the row's id: keyset paging
 * then starts the scan at the page token in either direction. Filters lead.
 */
const indexes = [
  ['task_state_savings_idx', 'task (tenant_id, state, savings_per_month, task_id)'],
  ['task_agent_savings_idx', 'task (tenant_id, agent_name, savings_per_month, task_id)'],
  ['task_savings_idx', 'task (tenant_id, savings_per_month, task_id)'],
  // Also serves min_suitability.
  ['task_suitability_idx', 'task (tenant_id, suitability, task_id)'],
  ['task_call_count_idx', 'task (tenant_id, call_count, task_id)'],
  ['task_last_seen_idx', 'task (tenant_id, last_seen_at, task_id)'],
  // Lineage walks from a task to the tasks it succeeded (merged or split from).
  ['task_successors_idx', `task USING gin ((body->'successorTaskIds'))`],
  ['dataset_created_idx', 'dataset (tenant_id, created_at, dataset_id)'],
  ['dataset_task_created_idx', 'dataset (tenant_id, task_id, created_at, dataset_id)'],
  ['model_version_created_idx', 'model_version (tenant_id, created_at, model_version_id)'],
  [
    'model_version_task_created_idx',
    'model_version (tenant_id, task_id, created_at, model_version_id)',
  ],
  ['model_version_updated_idx', 'model_version (tenant_id, updated_at, model_version_id)'],
] as const;

/** Columns and indexes for ListTasks, keyset paging, and the model versions' new fields. */
export class Records1767398400000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await addColumns(runner, 'task', taskColumns);
    await addColumns(runner, 'model_version', modelVersionColumns);
    for (const [name, definition] of indexes) {
      await runner.query(`CREATE INDEX ${name} ON ${definition}`);
    }
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const [name] of [...indexes].reverse()) await runner.query(`DROP INDEX ${name}`);
    for (const [table, columns] of [
      ['model_version', modelVersionColumns],
      ['task', taskColumns],
    ] as const) {
      await runner.query(
        `ALTER TABLE ${table} ${columns.map(([column]) => `DROP COLUMN ${column}`).join(', ')}`,
      );
    }
  }
}

/** Adds NOT NULL columns filled by `fill` (an expression over the row), without defaults. */
async function addColumns(
  runner: QueryRunner,
  table: string,
  columns: readonly (readonly [string, string, string])[],
): Promise<void> {
  await runner.query(
    `ALTER TABLE ${table} ${columns.map(([column, type]) => `ADD COLUMN ${column} ${type}`).join(', ')}`,
  );
  await runner.query(
    `UPDATE ${table} SET ${columns.map(([column, , fill]) => `${column} = ${fill}`).join(', ')}`,
  );
  await runner.query(
    `ALTER TABLE ${table} ${columns.map(([column]) => `ALTER COLUMN ${column} SET NOT NULL`).join(', ')}`,
  );
}
