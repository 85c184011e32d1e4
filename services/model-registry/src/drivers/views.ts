import { create, toJson } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import {
  TaskSchema,
  TaskState,
  TrainingRunSchema,
  TrainingRunState,
  type Task,
  type TaskEvent,
  type TrainingRun,
  type TrainingRunEvent,
} from '@understudy/contracts';
import { rethrowDatabaseError, withTransaction } from '@understudy/database';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { evolveRun } from '../domain/runs.js';
import { requireFields } from '../domain/validation.js';
import { TaskRow, TrainingRunRow } from './entities.js';
import { dateOf, jsonOf, taskOf, trainingRunOf } from './mapping.js';

/**
 * Records `eventId` as handled by `consumer` in the caller's transaction; false when it was
 * already, so a redelivered event changes nothing. Events without an id rely on natural keys.
 */
async function claim(manager: EntityManager, consumer: string, eventId: string): Promise<boolean> {
  if (eventId === '') return true;
  const claimed = await manager.query<unknown[]>(
    `INSERT INTO processed_event (consumer, event_id, processed_at) VALUES ($1, $2, now())
     ON CONFLICT DO NOTHING RETURNING event_id`,
    [consumer, eventId],
  );
  return claimed.length > 0;
}

/** The registry's read views of tasks and training runs, built from their events. */
export class ViewStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Applies a TaskEvent once per event id; a task older than the one held is ignored. */
  async applyTaskEvent(event: TaskEvent): Promise<void> {
    const tenantId = event.meta?.tenantId ?? '';
    requireFields({ 'meta.tenant_id': tenantId });
    await withTransaction(this.dataSource, async (manager) => {
      if (!(await claim(manager, 'tasks', event.meta?.eventId ?? ''))) return;
      const { kind } = event;
      switch (kind.case) {
        case 'discovered':
        case 'updated':
        case 'retired':
          if (kind.value.task) await upsertTask(manager, tenantId, kind.value.task);
          return;
        case 'merged': {
          const successor = kind.value.task;
          if (successor) await upsertTask(manager, tenantId, successor);
          const retired = kind.value.sourceTaskIds.filter((id) => id !== successor?.taskId);
          await retireTasks(manager, tenantId, retired, successor ? [successor.taskId] : []);
          return;
        }
        case 'split': {
          for (const task of kind.value.tasks) await upsertTask(manager, tenantId, task);
          const ids = kind.value.tasks.map((task) => task.taskId);
          if (!ids.includes(kind.value.sourceTaskId)) {
            await retireTasks(manager, tenantId, [kind.value.sourceTaskId], ids);
          }
          return;
        }
        case undefined:
          return;
      }
    });
  }

  /** Applies a TrainingRunEvent once per event id to the run's record. */
  async applyRunEvent(event: TrainingRunEvent): Promise<void> {
    const tenantId = event.meta?.tenantId ?? '';
    requireFields({ 'meta.tenant_id': tenantId, run_id: event.runId });
    await withTransaction(this.dataSource, async (manager) => {
      if (!(await claim(manager, 'training-runs', event.meta?.eventId ?? ''))) return;
      const row = await manager.findOne(TrainingRunRow, {
        where: { tenantId, runId: event.runId },
        lock: { mode: 'pessimistic_write' },
      });
      const run = evolveRun(
        row === null
          ? create(TrainingRunSchema, { runId: event.runId, tenantId, taskId: event.taskId })
          : trainingRunOf(row),
        event,
      );
      const now = new Date();
      await manager.upsert(
        TrainingRunRow,
        {
          tenantId,
          runId: run.runId,
          taskId: run.taskId,
          datasetId: run.datasetId,
          state: TrainingRunState[run.state].toLowerCase(),
          body: jsonOf(TrainingRunSchema, run),
          createdAt: row?.createdAt ?? (run.createdAt ? dateOf(run.createdAt) : now),
          updatedAt: now,
        },
        ['tenantId', 'runId'],
      );
    });
  }

  async findRun(tenantId: string, runId: string): Promise<TrainingRun | undefined> {
    const row = await this.dataSource.manager
      .findOneBy(TrainingRunRow, { tenantId, runId })
      .catch(rethrowDatabaseError);
    return row === null ? undefined : trainingRunOf(row);
  }

  /** The runs of these tasks, newest first (for lineage). */
  async runsOfTasks(tenantId: string, taskIds: readonly string[]): Promise<TrainingRun[]> {
    const rows = await this.dataSource.manager
      .find(TrainingRunRow, {
        where: { tenantId, taskId: In([...taskIds]) },
        order: { createdAt: 'DESC', runId: 'ASC' },
      })
      .catch(rethrowDatabaseError);
    return rows.map(trainingRunOf);
  }
}

async function upsertTask(manager: EntityManager, tenantId: string, task: Task): Promise<void> {
  if (task.tenantId !== '' && task.tenantId !== tenantId) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `task ${task.taskId} of tenant ${task.tenantId} arrived in an event of tenant ${tenantId}`,
    );
  }
  requireFields({ task_id: task.taskId });
  // The revision guard makes redelivered and reordered events harmless.
  await manager.query(
    `INSERT INTO task (tenant_id, task_id, revision, state, body, updated_at, agent_name,
                       suitability, savings_per_month, call_count, last_seen_at)
     VALUES ($1, $2, $3, $4, $5, now(), $6, $7, $8, $9, $10)
     ON CONFLICT (tenant_id, task_id) DO UPDATE
       SET revision = EXCLUDED.revision, state = EXCLUDED.state, body = EXCLUDED.body,
           updated_at = EXCLUDED.updated_at, agent_name = EXCLUDED.agent_name,
           suitability = EXCLUDED.suitability, savings_per_month = EXCLUDED.savings_per_month,
           call_count = EXCLUDED.call_count, last_seen_at = EXCLUDED.last_seen_at
       WHERE task.revision < EXCLUDED.revision`,
    [
      tenantId,
      task.taskId,
      task.revision.toString(),
      TaskState[task.state].toLowerCase(),
      JSON.stringify(toJson(TaskSchema, create(TaskSchema, { ...task, tenantId }))),
      task.agentName,
      task.suitability?.overall ?? 0,
      task.savings?.savingsPerMonth ?? 0,
      task.callCount.toString(),
      // A Date holds milliseconds, the precision page tokens carry; unset is proto's epoch.
      task.lastSeenAt ? timestampDate(task.lastSeenAt) : new Date(0),
    ],
  );
}

/** Retires tasks that a merge or split replaced, naming their successors. */
async function retireTasks(
  manager: EntityManager,
  tenantId: string,
  taskIds: readonly string[],
  successors: readonly string[],
): Promise<void> {
  for (const taskId of taskIds) {
    const row = await manager.findOne(TaskRow, {
      where: { tenantId, taskId },
      lock: { mode: 'pessimistic_write' },
    });
    if (row === null) continue;
    const task = taskOf(row);
    task.state = TaskState.RETIRED;
    task.successorTaskIds = [...successors];
    await manager.update(
      TaskRow,
      { tenantId, taskId },
      { state: 'retired', body: jsonOf(TaskSchema, task), updatedAt: new Date() },
    );
  }
}
