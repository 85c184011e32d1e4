import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { DatasetSchema, LlmCallSchema, type Dataset, type LlmCall } from '@understudy/contracts';
import { withDatabaseErrors } from '@understudy/database';
import { In, type DataSource } from 'typeorm';
import type { TaskMembers } from '../domain/plan.js';
import type { BuildClaim, BuildRecord, DatasetStore } from '../domain/ports.js';
import { BuildRow, CallRow, TaskRow } from './schema.js';

/** DatasetStore on PostgreSQL (schema `datasets`); every failure is an UnderstudyError. */
export class PostgresDatasetStore implements DatasetStore {
  constructor(private readonly dataSource: DataSource) {}

  saveCall(call: LlmCall): Promise<void> {
    return withDatabaseErrors(async () => {
      await this.dataSource
        .createQueryBuilder()
        .insert()
        .into(CallRow)
        .values({
          tenantId: call.tenantId,
          callId: call.callId,
          call: Buffer.from(toBinary(LlmCallSchema, call)),
        })
        .orIgnore()
        .execute();
    });
  }

  calls(tenantId: string, callIds: readonly string[]): Promise<Map<string, LlmCall>> {
    return withDatabaseErrors(async () => {
      if (callIds.length === 0) return new Map<string, LlmCall>();
      const rows = await this.dataSource
        .getRepository(CallRow)
        .findBy({ tenantId, callId: In([...callIds]) });
      return new Map(rows.map((row) => [row.callId, fromBinary(LlmCallSchema, row.call)]));
    });
  }

  saveTask(task: TaskMembers): Promise<boolean> {
    return withDatabaseErrors(async () => {
      // One statement, so concurrent events for a task cannot apply an older revision last.
      const applied: unknown[] = await this.dataSource.query(
        `INSERT INTO tasks (tenant_id, task_id, revision, retired, member_call_ids)
         VALUES ($1, $2, $3, false, $4)
         ON CONFLICT (tenant_id, task_id) DO UPDATE
           SET revision = excluded.revision, retired = false,
               member_call_ids = excluded.member_call_ids
           WHERE tasks.revision < excluded.revision
         RETURNING task_id`,
        [task.tenantId, task.taskId, task.revision.toString(), [...task.memberCallIds]],
      );
      return applied.length > 0;
    });
  }

  retireTasks(tenantId: string, taskIds: readonly string[]): Promise<void> {
    return withDatabaseErrors(async () => {
      if (taskIds.length === 0) return;
      await this.dataSource
        .getRepository(TaskRow)
        .update({ tenantId, taskId: In([...taskIds]) }, { retired: true });
    });
  }

  task(tenantId: string, taskId: string): Promise<TaskMembers | undefined> {
    return withDatabaseErrors(async () => {
      const row = await this.dataSource.getRepository(TaskRow).findOneBy({ tenantId, taskId });
      return row === null || row.retired ? undefined : members(row);
    });
  }

  tasksWithMember(tenantId: string, callId: string): Promise<TaskMembers[]> {
    return withDatabaseErrors(async () => {
      const rows = await this.dataSource
        .getRepository(TaskRow)
        .createQueryBuilder('task')
        .where('task.tenant_id = :tenantId', { tenantId })
        .andWhere('task.member_call_ids @> ARRAY[:callId]::text[]', { callId })
        .andWhere('NOT task.retired')
        .getMany();
      return rows.map(members);
    });
  }

  claimBuild(claim: BuildClaim): Promise<BuildRecord> {
    return withDatabaseErrors(async () => {
      const builds = this.dataSource.getRepository(BuildRow);
      await builds
        .createQueryBuilder()
        .insert()
        .values({ ...claim, state: 'building', failureReason: null, finishedAt: null })
        .orIgnore()
        .execute();
      return record(await builds.findOneByOrFail({ datasetId: claim.datasetId }));
    });
  }

  finishBuild(datasetId: string, dataset: Dataset, finishedAt: Date): Promise<void> {
    return withDatabaseErrors(async () => {
      await this.dataSource.getRepository(BuildRow).update(
        { datasetId },
        {
          state: 'ready',
          finishedAt,
          dataset: Buffer.from(toBinary(DatasetSchema, dataset)),
        },
      );
    });
  }

  failBuild(datasetId: string, reason: string, finishedAt: Date): Promise<void> {
    return withDatabaseErrors(async () => {
      await this.dataSource
        .getRepository(BuildRow)
        .update({ datasetId }, { state: 'failed', failureReason: reason, finishedAt });
    });
  }

  build(tenantId: string, datasetId: string): Promise<BuildRecord | undefined> {
    return withDatabaseErrors(async () => {
      const row = await this.dataSource.getRepository(BuildRow).findOneBy({ tenantId, datasetId });
      return row === null ? undefined : record(row);
    });
  }
}

function members(row: TaskRow): TaskMembers {
  return {
    tenantId: row.tenantId,
    taskId: row.taskId,
    revision: BigInt(row.revision),
    memberCallIds: row.memberCallIds,
  };
}

function record(row: BuildRow): BuildRecord {
  return {
    datasetId: row.datasetId,
    tenantId: row.tenantId,
    taskId: row.taskId,
    requestId: row.requestId,
    state: row.state,
    createdAt: row.createdAt,
    ...(row.failureReason !== null && { failureReason: row.failureReason }),
    ...(row.finishedAt !== null && { finishedAt: row.finishedAt }),
    ...(row.dataset !== null && { dataset: fromBinary(DatasetSchema, row.dataset) }),
  };
}
