import { create, fromBinary, toBinary, toJson } from '@bufbuild/protobuf';
import {
  SavingsEstimateSchema,
  SuitabilityScoresSchema,
  TaskEventSchema,
  TaskProfileSchema,
  type EventMeta,
  type TaskEvent,
} from '@understudy/contracts';
import { mapDatabaseError, withDatabaseErrors, withTransaction } from '@understudy/database';
import { In, type DataSource, type EntityManager } from 'typeorm';
import type { IndexedTask } from '../domain/discovery/online.js';
import { dotRow } from '../domain/discovery/vectors.js';
import type { CallWindow, Reclustering } from '../domain/recluster.js';
import { taskEvents, type Announced } from '../domain/task-events.js';
import { OutboxRow, TaskRow, TenantStateRow } from './entities.js';

/** What online assignment needs of a tenant: the last run's maps and task centroids. */
export interface TenantIndex {
  readonly generation: number;
  readonly embeddingModel: string;
  readonly dimension: number;
  readonly tasks: readonly IndexedTask[];
  readonly signatureTasks: ReadonlyMap<string, string>;
  readonly placeTasks: ReadonlyMap<string, string>;
}

export interface AppliedRun {
  readonly tasks: number;
  readonly retired: number;
  readonly reassigned: number;
  readonly events: number;
}

/** Tasks, per-tenant discovery state and the TaskEvent outbox in PostgreSQL. */
export class TaskStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Every tenant with its last run; the maps stay unread (each round lists all tenants). */
  async tenants(): Promise<Pick<TenantStateRow, 'tenantId' | 'lastRunAt'>[]> {
    return withDatabaseErrors(() =>
      this.dataSource
        .getRepository(TenantStateRow)
        .find({ select: { tenantId: true, lastRunAt: true } }),
    );
  }

  async state(tenantId: string): Promise<TenantStateRow | undefined> {
    const row = await withDatabaseErrors(() =>
      this.dataSource.getRepository(TenantStateRow).findOneBy({ tenantId }),
    );
    return row ?? undefined;
  }

  async index(tenantId: string): Promise<TenantIndex> {
    const [state, rows] = await withDatabaseErrors(() =>
      Promise.all([
        this.dataSource.getRepository(TenantStateRow).findOneBy({ tenantId }),
        this.dataSource.getRepository(TaskRow).findBy({ tenantId, state: 'active' }),
      ]),
    );
    const tasks = rows.map((row) => ({
      id: row.taskId,
      structure: row.structure,
      centroid: row.centroid ?? undefined,
      threshold: row.threshold,
    }));
    return {
      generation: state?.generation ?? 0,
      embeddingModel: state?.embeddingModel ?? '',
      dimension: tasks.find((task) => task.centroid !== undefined)?.centroid?.length ?? 0,
      tasks,
      signatureTasks: new Map(Object.entries(state?.signatureTasks ?? {})),
      placeTasks: new Map(Object.entries(state?.placeTasks ?? {})),
    };
  }

  /** An active task of the tenant. */
  async findTask(tenantId: string, taskId: string): Promise<TaskRow | undefined> {
    const row = await withDatabaseErrors(() =>
      this.dataSource.getRepository(TaskRow).findOneBy({ tenantId, taskId, state: 'active' }),
    );
    return row ?? undefined;
  }

  /** The tenant's active tasks: id and when each last saw a call. */
  activeTasks(tenantId: string): Promise<Pick<TaskRow, 'taskId' | 'lastSeenAt'>[]> {
    return withDatabaseErrors(() =>
      this.dataSource.getRepository(TaskRow).find({
        select: { taskId: true, lastSeenAt: true },
        where: { tenantId, state: 'active' },
      }),
    );
  }

  hasActiveTasks(tenantId: string): Promise<boolean> {
    return withDatabaseErrors(() =>
      this.dataSource.getRepository(TaskRow).existsBy({ tenantId, state: 'active' }),
    );
  }

  /**
   * Runs `work` while holding the tenant's re-clustering lock, on a connection of its own; false
   * when another replica holds it. Session-level, so it spans the run's transactions.
   */
  async withTenantLock(tenantId: string, work: () => Promise<void>): Promise<boolean> {
    const runner = this.dataSource.createQueryRunner();
    const key = `clusterer:${tenantId}`;
    try {
      await runner.connect();
      const [row] = (await runner.query(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [key],
      )) as { locked: boolean }[];
      if (row?.locked !== true) return false;
      try {
        await work();
      } finally {
        await runner.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
      }
      return true;
    } catch (error) {
      throw mapDatabaseError(error);
    } finally {
      await runner.release();
    }
  }

  /**
   * Writes a re-clustering in one transaction: tasks, retirements, the calls' new tasks, the
   * maps online assignment reads, and the events announcing it all (the outbox). Calls recorded
   * while the run computed keep their online task unless that task is gone.
   */
  async apply(
    tenantId: string,
    window: CallWindow & { readonly model: string; readonly backend: string },
    result: Reclustering,
    startedAt: Date,
    meta: () => EventMeta,
  ): Promise<AppliedRun> {
    return withTransaction(this.dataSource, async (manager) => {
      const tasks = manager.getRepository(TaskRow);
      const previous = new Map(
        (await tasks.findBy({ tenantId, state: 'active' })).map((row) => [row.taskId, row]),
      );
      const previousLabels = new Map([...previous].map(([id, row]) => [id, row.label]));
      const rows = new Map<string, TaskRow>();
      for (const found of result.tasks) {
        const old = previous.get(found.id);
        const { profile, suitability, savings } = found.assessment;
        const row = Object.assign(old ?? new TaskRow(), {
          taskId: found.id,
          tenantId,
          signature: found.signature.digest,
          signatures: [...found.signatures],
          structure: found.structure,
          agentName: found.signature.agentName,
          label: found.label,
          keywords: [...found.keywords],
          state: 'active',
          centroid: found.centroid === undefined ? null : Array.from(found.centroid),
          threshold: Number.isFinite(found.threshold) ? found.threshold : 1,
          embeddingModel: found.centroid === undefined ? '' : window.model,
          embeddingBackend: found.centroid === undefined ? '' : window.backend,
          callCount: old?.callCount ?? 0,
          callsPerDay: found.callsPerDay,
          representativeCallIds: [...found.representativeCallIds],
          suitability: toJson(
            SuitabilityScoresSchema,
            create(SuitabilityScoresSchema, suitability),
          ),
          savings: toJson(SavingsEstimateSchema, create(SavingsEstimateSchema, savings)),
          profile: toJson(TaskProfileSchema, create(TaskProfileSchema, profile)),
          revision: (old?.revision ?? 0) + 1,
          announcedCallCount: old?.announcedCallCount ?? 0,
          successorTaskIds: [],
          retiredReason: '',
          firstSeenAt: new Date(
            Math.min(found.firstSeenMs, old?.firstSeenAt.getTime() ?? Infinity),
          ),
          lastSeenAt: new Date(Math.max(found.lastSeenMs, old?.lastSeenAt.getTime() ?? 0)),
        } satisfies TaskRow);
        rows.set(found.id, row);
      }
      const retired = retirements(result);
      for (const [id, { reason, successors }] of retired) {
        const old = previous.get(id);
        if (old === undefined || rows.has(id)) continue;
        rows.set(
          id,
          Object.assign(old, {
            state: 'retired',
            retiredReason: reason,
            successorTaskIds: successors,
            revision: old.revision + 1,
          } satisfies Partial<TaskRow>),
        );
      }
      await tasks.save([...rows.values()]);

      const reassigned = await reassign(manager, tenantId, window, result, retired);
      await manager.query(
        `UPDATE task SET call_count = (SELECT count(*) FROM call
           WHERE call.tenant_id = task.tenant_id AND call.task_id = task.task_id)
         WHERE tenant_id = $1 AND task_id = ANY($2)`,
        [tenantId, [...rows.keys()]],
      );
      const counted = new Map(
        (await tasks.findBy({ tenantId, taskId: In([...rows.keys()]) })).map((row) => [
          row.taskId,
          row,
        ]),
      );
      const announced = new Map<string, Announced>(
        [...counted].map(([id, row]) => [
          id,
          {
            task: row,
            announcedCallCount: row.announcedCallCount,
            previousLabel: previousLabels.get(id),
          },
        ]),
      );
      const { events, announced: told } = taskEvents(result.changes, announced, meta);
      for (const id of told) {
        const row = counted.get(id) as TaskRow;
        await tasks.update({ taskId: id }, { announcedCallCount: row.callCount });
      }
      for (const event of events) {
        await manager.insert(OutboxRow, {
          tenantId,
          event: Buffer.from(toBinary(TaskEventSchema, event)),
        });
      }
      await manager.upsert(
        TenantStateRow,
        {
          tenantId,
          generation: (await this.generationIn(manager, tenantId)) + 1,
          lastRunAt: startedAt,
          signatureTasks: Object.fromEntries(result.signatureTasks),
          placeTasks: Object.fromEntries(result.placeTasks),
          embeddingModel: window.model,
        },
        ['tenantId'],
      );
      return {
        tasks: result.tasks.length,
        retired: retired.size,
        reassigned,
        events: events.length,
      };
    });
  }

  /** Events waiting in the tenant's outbox, oldest first. */
  async outbox(tenantId: string, limit: number): Promise<{ id: number; event: TaskEvent }[]> {
    const rows = await withDatabaseErrors(() =>
      this.dataSource
        .getRepository(OutboxRow)
        .find({ where: { tenantId }, order: { id: 'ASC' }, take: limit }),
    );
    return rows.map((row) => ({ id: row.id, event: fromBinary(TaskEventSchema, row.event) }));
  }

  async tenantsWithOutbox(): Promise<string[]> {
    const rows = await withDatabaseErrors(() =>
      this.dataSource.query<{ tenant_id: string }[]>('SELECT DISTINCT tenant_id FROM outbox'),
    );
    return rows.map((row) => row.tenant_id);
  }

  async deleteOutbox(ids: readonly number[]): Promise<void> {
    await withDatabaseErrors(() =>
      this.dataSource.getRepository(OutboxRow).delete({ id: In([...ids]) }),
    );
  }

  private async generationIn(manager: EntityManager, tenantId: string): Promise<number> {
    const row = await manager.findOneBy(TenantStateRow, { tenantId });
    return row?.generation ?? 0;
  }
}

/** Tasks that end with this run: retired ones, and merge or split sources that lost their id. */
function retirements(result: Reclustering): Map<string, { reason: string; successors: string[] }> {
  const ended = new Map<string, { reason: string; successors: string[] }>();
  for (const change of result.changes) {
    if (change.kind === 'retired') ended.set(change.id, { reason: change.reason, successors: [] });
    if (change.kind === 'merged') {
      for (const source of change.sources) {
        if (source !== change.id) ended.set(source, { reason: 'merged', successors: [change.id] });
      }
    }
    if (change.kind === 'split' && !change.parts.some((part) => part.id === change.source)) {
      ended.set(change.source, {
        reason: 'split',
        successors: change.parts.map((part) => part.id),
      });
    }
  }
  return ended;
}

/**
 * Moves calls to their new tasks: all calls of a merged task follow it (history included); the
 * window's calls take the run's assignment; calls left on an ended task become unassigned.
 */
async function reassign(
  manager: EntityManager,
  tenantId: string,
  window: CallWindow,
  result: Reclustering,
  retired: ReadonlyMap<string, { reason: string; successors: string[] }>,
): Promise<number> {
  for (const [id, { reason, successors }] of retired) {
    if (reason !== 'merged') continue;
    await manager.query('UPDATE call SET task_id = $3 WHERE tenant_id = $1 AND task_id = $2', [
      tenantId,
      id,
      successors[0],
    ]);
  }
  const centroids = new Map(result.tasks.map((task) => [task.id, task.centroid]));
  const { table, calls } = window;
  const callIds: string[] = [];
  const taskIds: (string | null)[] = [];
  const similarities: number[] = [];
  result.assignment.forEach((taskId, i) => {
    const call = calls[i];
    if (call === undefined) return;
    const centroid = taskId === null ? undefined : centroids.get(taskId);
    const similarity =
      centroid === undefined || table.hasVector[i] !== 1
        ? 0
        : dotRow(table.vectors, i, centroid, 0, table.dimension);
    if (taskId === call.taskId) return;
    callIds.push(call.callId);
    taskIds.push(taskId);
    similarities.push(similarity);
  });
  // Batches keep one statement's arrays to a few megabytes.
  for (let start = 0; start < callIds.length; start += 10_000) {
    const end = start + 10_000;
    await manager.query(
      `UPDATE call SET task_id = moved.task_id, similarity = moved.similarity,
         assigned_by = CASE WHEN moved.task_id IS NULL THEN NULL ELSE 'batch' END
       FROM unnest($2::text[], $3::uuid[], $4::float8[]) AS moved(call_id, task_id, similarity)
       WHERE call.tenant_id = $1 AND call.call_id = moved.call_id`,
      [
        tenantId,
        callIds.slice(start, end),
        taskIds.slice(start, end),
        similarities.slice(start, end),
      ],
    );
  }
  const ended = [...retired].flatMap(([id, { reason }]) => (reason === 'merged' ? [] : [id]));
  if (ended.length > 0) {
    await manager.query(
      `UPDATE call SET task_id = NULL, assigned_by = NULL
       WHERE tenant_id = $1 AND task_id = ANY($2) AND start_time >= $3`,
      [tenantId, ended, new Date(window.startMs)],
    );
  }
  return callIds.length;
}
