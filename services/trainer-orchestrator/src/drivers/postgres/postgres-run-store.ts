import { rethrowDatabaseError } from '@understudy/database';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { Brackets, type DataSource, type Repository } from 'typeorm';
import type { Progress, Run, RunState, TrainingResult } from '../../domain/run.js';
import type { RunFilter, RunStore } from '../run-store.js';
import { TrainingRunRow } from './training-run.entity.js';

/** Runs in PostgreSQL (schema `trainer`). */
export class PostgresRunStore implements RunStore {
  private readonly rows: Repository<TrainingRunRow>;

  constructor(dataSource: DataSource) {
    this.rows = dataSource.getRepository(TrainingRunRow);
  }

  async create(run: Run): Promise<{ run: Run; created: boolean }> {
    const result = await this.rows
      .createQueryBuilder()
      .insert()
      .values(toRow(run))
      .orIgnore()
      .returning('run_id')
      .execute()
      .catch(rethrowDatabaseError);
    // ON CONFLICT DO NOTHING returns no row when another run holds the request id.
    if (Array.isArray(result.raw) && result.raw.length > 0) return { run, created: true };
    const existing = await this.rows
      .findOneBy({ tenantId: run.tenantId, requestId: run.requestId })
      .catch(rethrowDatabaseError);
    if (existing === null) {
      throw new UnderstudyError(ErrorCode.Aborted, `run ${run.runId} conflicted; try again`);
    }
    return { run: fromRow(existing), created: false };
  }

  async get(tenantId: string, runId: string): Promise<Run | undefined> {
    const row = await this.rows.findOneBy({ tenantId, runId }).catch(rethrowDatabaseError);
    return row === null ? undefined : fromRow(row);
  }

  async update(run: Run): Promise<Run> {
    const next = { ...run, version: run.version + 1 };
    const result = await this.rows
      .createQueryBuilder()
      .update()
      .set(toRow(next))
      .where('run_id = :runId AND version = :version', { runId: run.runId, version: run.version })
      .execute()
      .catch(rethrowDatabaseError);
    if (result.affected !== 1) {
      throw new UnderstudyError(ErrorCode.Aborted, `run ${run.runId} changed concurrently`, {
        details: { runId: run.runId },
      });
    }
    return next;
  }

  async list(filter: RunFilter): Promise<Run[]> {
    const query = this.rows
      .createQueryBuilder('run')
      .where('run.tenant_id = :tenantId', { tenantId: filter.tenantId })
      .orderBy('run.created_at', 'DESC')
      .addOrderBy('run.run_id', 'DESC')
      .limit(filter.limit);
    if (filter.taskId !== undefined) query.andWhere('run.task_id = :taskId', filter);
    if (filter.datasetId !== undefined) query.andWhere('run.dataset_id = :datasetId', filter);
    if (filter.states !== undefined && filter.states.length > 0) {
      query.andWhere('run.state IN (:...states)', { states: filter.states });
    }
    const { after } = filter;
    if (after !== undefined) {
      query.andWhere(
        new Brackets((where) => {
          where
            .where('run.created_at < :createdAt', after)
            .orWhere('run.created_at = :createdAt AND run.run_id < :runId', after);
        }),
      );
    }
    const rows = await query.getMany().catch(rethrowDatabaseError);
    return rows.map(fromRow);
  }

  async pending(): Promise<Run[]> {
    const rows = await this.rows
      .createQueryBuilder('run')
      .where("run.state NOT IN ('succeeded', 'failed', 'cancelled')")
      .orWhere('NOT run.announced')
      .orWhere("run.state = 'succeeded' AND run.model_version_id IS NULL")
      .orderBy('run.created_at')
      .getMany()
      .catch(rethrowDatabaseError);
    return rows.map(fromRow);
  }
}

type StoredProgress = Omit<Progress, 'reportedAt'> & { reportedAt: string };

function toRow(run: Run): TrainingRunRow {
  const row = new TrainingRunRow();
  Object.assign(row, {
    runId: run.runId,
    tenantId: run.tenantId,
    taskId: run.taskId,
    datasetId: run.datasetId,
    datasetUri: run.datasetUri,
    baseModel: run.baseModel,
    hyperParameters: run.hyperParameters,
    resources: run.resources,
    requestId: run.requestId,
    fingerprint: run.fingerprint,
    requestedBy: run.requestedBy,
    state: run.state,
    attempt: run.attempt,
    outputUri: run.outputUri,
    jobName: run.jobName ?? null,
    progress:
      run.progress === undefined
        ? null
        : { ...run.progress, reportedAt: run.progress.reportedAt.toISOString() },
    adapterUri: run.adapterUri ?? null,
    metrics: run.metrics,
    result: run.result ?? null,
    failure: run.failure ?? null,
    cancelReason: run.cancelReason ?? null,
    modelVersionId: run.modelVersionId ?? null,
    announced: run.announced,
    createdAt: run.createdAt,
    startedAt: run.startedAt ?? null,
    finishedAt: run.finishedAt ?? null,
    version: run.version,
  });
  return row;
}

function fromRow(row: TrainingRunRow): Run {
  const progress = row.progress as StoredProgress | null;
  return {
    runId: row.runId,
    tenantId: row.tenantId,
    taskId: row.taskId,
    datasetId: row.datasetId,
    datasetUri: row.datasetUri,
    baseModel: row.baseModel,
    hyperParameters: row.hyperParameters as Record<string, unknown>,
    resources: row.resources,
    requestId: row.requestId,
    fingerprint: row.fingerprint,
    requestedBy: row.requestedBy,
    state: row.state as RunState,
    attempt: row.attempt,
    outputUri: row.outputUri,
    metrics: row.metrics,
    announced: row.announced,
    createdAt: row.createdAt,
    version: row.version,
    ...(row.jobName !== null && { jobName: row.jobName }),
    ...(progress !== null && {
      progress: { ...progress, reportedAt: new Date(progress.reportedAt) },
    }),
    ...(row.adapterUri !== null && { adapterUri: row.adapterUri }),
    ...(row.result !== null && { result: row.result as TrainingResult }),
    ...(row.failure !== null && { failure: row.failure }),
    ...(row.cancelReason !== null && { cancelReason: row.cancelReason }),
    ...(row.modelVersionId !== null && { modelVersionId: row.modelVersionId }),
    ...(row.startedAt !== null && { startedAt: row.startedAt }),
    ...(row.finishedAt !== null && { finishedAt: row.finishedAt }),
  };
}
