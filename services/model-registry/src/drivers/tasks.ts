import { TaskState, type Task } from '@understudy/contracts';
import { rethrowDatabaseError } from '@understudy/database';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { DataSource } from 'typeorm';
import type { ListOrder, PageRequest } from '../domain/paging.js';
import { notFound, requireFields } from '../domain/validation.js';
import { TaskRow } from './entities.js';
import { keysetPage } from './keyset.js';
import { taskOf } from './mapping.js';

export interface TaskFilter {
  readonly tenantId: string;
  /** UNSPECIFIED matches every state. */
  readonly state: TaskState;
  readonly agentName: string;
  /** Tasks whose overall suitability is at least this. */
  readonly minSuitability: number;
}

export interface TaskQuery extends TaskFilter, PageRequest {}

const taskOrder: ListOrder<TaskRow> = {
  fields: {
    savings_per_month: {
      column: 't.savingsPerMonth',
      kind: 'number',
      value: (row) => row.savingsPerMonth,
    },
    suitability: { column: 't.suitability', kind: 'number', value: (row) => row.suitability },
    call_count: { column: 't.callCount', kind: 'integer', value: (row) => row.callCount },
    last_seen_at: { column: 't.lastSeenAt', kind: 'timestamp', value: (row) => row.lastSeenAt },
  },
  fallback: 'savings_per_month desc',
  id: { column: 't.taskId', kind: 'text', value: (row) => row.taskId },
};

/** The task table's state column, as views.ts writes it; undefined matches every state. */
function stateColumn(state: TaskState): string | undefined {
  switch (state) {
    case TaskState.UNSPECIFIED:
      return undefined;
    case TaskState.ACTIVE:
      return 'active';
    case TaskState.RETIRED:
      return 'retired';
    default:
      throw new UnderstudyError(ErrorCode.InvalidArgument, `state ${String(state)} is unknown`);
  }
}

/** Tasks as last announced by the clusterer (the view ViewStore builds from TaskEvents). */
export class TaskStore {
  constructor(private readonly dataSource: DataSource) {}

  async get(tenantId: string, taskId: string): Promise<Task> {
    const task = await this.find(tenantId, taskId);
    if (task === undefined) throw notFound('task', taskId);
    return task;
  }

  async find(tenantId: string, taskId: string): Promise<Task | undefined> {
    requireFields({ tenant_id: tenantId, task_id: taskId });
    const row = await this.dataSource.manager
      .findOneBy(TaskRow, { tenantId, taskId })
      .catch(rethrowDatabaseError);
    return row === null ? undefined : taskOf(row);
  }

  async list(query: TaskQuery): Promise<{ tasks: Task[]; nextPageToken: string }> {
    const { tenantId, state, agentName, minSuitability } = query;
    const page = await keysetPage(this.filtered(query), taskOrder, query, {
      tenantId,
      state,
      agentName,
      minSuitability,
    });
    return { tasks: page.rows.map(taskOf), nextPageToken: page.nextPageToken };
  }

  /**
   * The first `limit` of the tenant's active tasks at least `minSuitability` suitable, in
   * ListTasks' default order: largest saving first.
   */
  async rankedBySavings(tenantId: string, minSuitability: number, limit: number): Promise<Task[]> {
    const rows = await this.filtered({
      tenantId,
      state: TaskState.ACTIVE,
      agentName: '',
      minSuitability,
    })
      .orderBy('t.savingsPerMonth', 'DESC')
      .addOrderBy('t.taskId', 'DESC')
      .limit(limit)
      .getMany()
      .catch(rethrowDatabaseError);
    return rows.map(taskOf);
  }

  private filtered({ tenantId, state, agentName, minSuitability }: TaskFilter) {
    requireFields({ tenant_id: tenantId });
    const builder = this.dataSource.manager
      .createQueryBuilder(TaskRow, 't')
      .where('t.tenantId = :tenantId', { tenantId });
    const stateName = stateColumn(state);
    if (stateName !== undefined) builder.andWhere('t.state = :state', { state: stateName });
    if (agentName !== '') builder.andWhere('t.agentName = :agentName', { agentName });
    if (minSuitability > 0) {
      builder.andWhere('t.suitability >= :minSuitability', { minSuitability });
    }
    return builder;
  }

  /**
   * The tasks `taskId` succeeded, directly or through earlier merges and splits, nearest first
   * (each task names its successors when it is retired).
   */
  async predecessorsOf(tenantId: string, taskId: string): Promise<string[]> {
    const rows = await this.dataSource
      .query<{ task_id: string }[]>(
        `WITH RECURSIVE predecessor (task_id, depth) AS (
           SELECT t.task_id, 1 FROM task t
            WHERE t.tenant_id = $1 AND t.body->'successorTaskIds' @> jsonb_build_array($2::text)
           UNION
           SELECT t.task_id, p.depth + 1 FROM task t
             JOIN predecessor p ON t.body->'successorTaskIds' @> jsonb_build_array(p.task_id)
            WHERE t.tenant_id = $1 AND p.depth < $3
         )
         SELECT task_id FROM predecessor WHERE task_id <> $2
          GROUP BY task_id ORDER BY min(depth), task_id`,
        [tenantId, taskId, maxLineageDepth],
      )
      .catch(rethrowDatabaseError);
    return rows.map((row) => row.task_id);
  }
}

/**
 * How many merges or splits back lineage looks. A cycle (a task that took its successor's calls
 * back) would otherwise recurse until the depth column overflows.
 */
const maxLineageDepth = 64;
