import { randomUUID } from 'node:crypto';
import { mapDatabaseError, withTransaction } from '@understudy/database';
import type { StructuralSignature } from '@understudy/contracts';
import { Brackets, type DataSource, type EntityManager } from 'typeorm';
import {
  place,
  type CallVector,
  type Cluster,
  type ClusteringPolicy,
} from '../domain/clustering.js';
import { labelOf } from '../domain/label.js';
import type { TaskFacts } from '../domain/task-message.js';
import { TaskMemberRow, TaskRow } from './entities.js';

const representatives = 5;
const week = 7 * 24 * 60 * 60 * 1000;

/** A CallEmbedded, as the store keeps it. */
export interface EmbeddedCall {
  readonly tenantId: string;
  readonly callId: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly startTime: Date;
  readonly signature: StructuralSignature;
  readonly vector: (CallVector & { readonly backend: string }) | undefined;
  readonly contentHash: string;
  readonly contentCaptured: boolean;
  readonly provider: string;
  readonly requestModel: string;
  readonly inputTokens: number | undefined;
  readonly outputTokens: number | undefined;
  readonly failed: boolean;
}

export interface ModelStatistics {
  readonly provider: string;
  readonly requestModel: string;
  readonly callCount: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface TaskStatistics {
  readonly contentCapturedCount: number;
  readonly errorCount: number;
  readonly models: readonly ModelStatistics[];
}

export interface MemberQuery {
  readonly start?: Date;
  readonly end?: Date;
  readonly contentCapturedOnly: boolean;
  /** Keyset: the (start_time, call_id) of the last member already returned. */
  readonly after?: { readonly startTime: Date; readonly callId: string };
  readonly limit: number;
}

/** Tasks and their members in PostgreSQL (schema `clusterer`). */
export class TaskStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Places a call in its signature group and records its membership, once: a call already
   * assigned (a redelivery) changes nothing. The group is serialised by an advisory lock, so
   * replicas and rebalances never place two calls of a group on stale centroids.
   */
  async assign(call: EmbeddedCall, policy: ClusteringPolicy): Promise<void> {
    await withTransaction(
      this.dataSource,
      async (manager) => {
        await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          JSON.stringify([call.tenantId, call.signature.digest]),
        ]);
        const known = await manager.existsBy(TaskMemberRow, {
          tenantId: call.tenantId,
          callId: call.callId,
        });
        if (known) return;
        const rows = await manager.findBy(TaskRow, {
          tenantId: call.tenantId,
          signature: call.signature.digest,
        });
        const { cluster, created, similarity } = place(
          rows.map(toCluster),
          call.vector,
          policy,
          randomUUID,
        );
        const row = created ? newRow(call, cluster.id) : rows.find((r) => r.taskId === cluster.id);
        if (row === undefined) throw new Error(`cluster ${cluster.id} vanished`);
        await this.save(manager, row, cluster, call);
        await manager.insert(TaskMemberRow, {
          tenantId: call.tenantId,
          callId: call.callId,
          taskId: cluster.id,
          traceId: call.traceId,
          spanId: call.spanId,
          startTime: call.startTime,
          similarity,
          contentCaptured: call.contentCaptured,
          contentHash: call.contentHash,
          provider: call.provider,
          requestModel: call.requestModel,
          inputTokens: call.inputTokens ?? null,
          outputTokens: call.outputTokens ?? null,
          failed: call.failed,
        });
      },
      { retries: 3 },
    );
  }

  /** Tasks of a group whose last announcement has not been published yet. */
  pending(tenantId: string, signature: string): Promise<TaskRow[]> {
    return this.run(() =>
      this.dataSource
        .getRepository(TaskRow)
        .createQueryBuilder('task')
        .where('task.tenant_id = :tenantId AND task.signature = :signature', {
          tenantId,
          signature,
        })
        .andWhere('task.pending_event IS NOT NULL')
        .getMany(),
    );
  }

  /** Clears the announcement if nothing changed since it was read; otherwise the next one goes out. */
  async markAnnounced(taskId: string, revision: number): Promise<void> {
    await this.run(() =>
      this.dataSource.getRepository(TaskRow).update({ taskId, revision }, { pendingEvent: null }),
    );
  }

  /** The task with the figures a Task message shows. */
  async facts(row: TaskRow): Promise<TaskFacts> {
    return {
      taskId: row.taskId,
      tenantId: row.tenantId,
      signature: row.signature,
      label: row.label,
      keywords: row.keywords,
      agentName: row.agentName,
      callCount: row.callCount,
      centroidSum: row.centroidSum,
      embeddingModel: row.embeddingModel,
      embeddingBackend: row.embeddingBackend,
      revision: row.revision,
      firstSeenAt: row.firstSeenAt,
      lastSeenAt: row.lastSeenAt,
      representativeCallIds: await this.representatives(row.taskId, representatives),
      callsLastWeek: await this.callsSince(row.taskId, new Date(Date.now() - week)),
    };
  }

  /** Members most similar to the centroid when they joined, most typical first. */
  private async representatives(taskId: string, limit: number): Promise<string[]> {
    const rows = await this.run(() =>
      this.dataSource.getRepository(TaskMemberRow).find({
        select: { callId: true },
        where: { taskId },
        order: { similarity: 'DESC', callId: 'ASC' },
        take: limit,
      }),
    );
    return rows.map((row) => row.callId);
  }

  private async callsSince(taskId: string, since: Date): Promise<number> {
    return this.run(() =>
      this.dataSource
        .getRepository(TaskMemberRow)
        .createQueryBuilder('member')
        .where('member.task_id = :taskId AND member.start_time >= :since', { taskId, since })
        .getCount(),
    );
  }

  /** An active task of the tenant; candidates are not tasks yet. */
  async findTask(tenantId: string, taskId: string): Promise<TaskRow | undefined> {
    const row = await this.run(() =>
      this.dataSource.getRepository(TaskRow).findOneBy({ tenantId, taskId, state: 'active' }),
    );
    return row ?? undefined;
  }

  activeTasks(tenantId: string): Promise<TaskRow[]> {
    return this.run(() =>
      this.dataSource.getRepository(TaskRow).findBy({ tenantId, state: 'active' }),
    );
  }

  async statistics(taskId: string): Promise<TaskStatistics> {
    const members = this.dataSource.getRepository(TaskMemberRow);
    const [totals, models] = await this.run(() =>
      Promise.all([
        members
          .createQueryBuilder('member')
          .select('count(*) FILTER (WHERE member.content_captured)', 'captured')
          .addSelect('count(*) FILTER (WHERE member.failed)', 'failed')
          .where('member.task_id = :taskId', { taskId })
          .getRawOne<{ captured: string; failed: string }>(),
        members
          .createQueryBuilder('member')
          .select('member.provider', 'provider')
          .addSelect('member.request_model', 'model')
          .addSelect('count(*)', 'calls')
          .addSelect('coalesce(sum(member.input_tokens), 0)', 'input')
          .addSelect('coalesce(sum(member.output_tokens), 0)', 'output')
          .where('member.task_id = :taskId', { taskId })
          .groupBy('member.provider')
          .addGroupBy('member.request_model')
          .orderBy('calls', 'DESC')
          .addOrderBy('member.provider')
          .addOrderBy('member.request_model')
          .getRawMany<{
            provider: string;
            model: string;
            calls: string;
            input: string;
            output: string;
          }>(),
      ]),
    );
    return {
      contentCapturedCount: Number(totals?.captured ?? 0),
      errorCount: Number(totals?.failed ?? 0),
      models: models.map((row) => ({
        provider: row.provider,
        requestModel: row.model,
        callCount: Number(row.calls),
        inputTokens: Number(row.input),
        outputTokens: Number(row.output),
      })),
    };
  }

  /** A page of a task's members, oldest first. */
  members(taskId: string, query: MemberQuery): Promise<TaskMemberRow[]> {
    const builder = this.dataSource
      .getRepository(TaskMemberRow)
      .createQueryBuilder('member')
      .where('member.task_id = :taskId', { taskId });
    if (query.start !== undefined)
      builder.andWhere('member.start_time >= :start', { start: query.start });
    if (query.end !== undefined) builder.andWhere('member.start_time < :end', { end: query.end });
    if (query.contentCapturedOnly) builder.andWhere('member.content_captured');
    const after = query.after;
    if (after !== undefined) {
      builder.andWhere(
        new Brackets((where) => {
          where
            .where('member.start_time > :afterTime', { afterTime: after.startTime })
            .orWhere('member.start_time = :afterTime AND member.call_id > :afterCall', {
              afterCall: after.callId,
            });
        }),
      );
    }
    return this.run(() =>
      builder
        .orderBy('member.start_time', 'ASC')
        .addOrderBy('member.call_id', 'ASC')
        .limit(query.limit)
        .getMany(),
    );
  }

  private async save(
    manager: EntityManager,
    row: TaskRow,
    cluster: Cluster,
    call: EmbeddedCall,
  ): Promise<void> {
    row.state = cluster.state;
    row.callCount = cluster.callCount;
    row.centroidSum = cluster.centroidSum === undefined ? null : [...cluster.centroidSum];
    row.embeddingModel = cluster.model;
    if (row.embeddingBackend === '' && call.vector !== undefined)
      row.embeddingBackend = call.vector.backend;
    row.revision = cluster.revision;
    row.pendingEvent = cluster.pending ?? null;
    if (call.startTime < row.firstSeenAt) row.firstSeenAt = call.startTime;
    if (call.startTime > row.lastSeenAt) row.lastSeenAt = call.startTime;
    await manager.save(TaskRow, row);
  }

  private async run<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw mapDatabaseError(error);
    }
  }
}

export function toCluster(row: TaskRow): Cluster {
  return {
    id: row.taskId,
    state: row.state,
    callCount: row.callCount,
    centroidSum: row.centroidSum ?? undefined,
    model: row.embeddingModel,
    revision: row.revision,
    pending: row.pendingEvent ?? undefined,
  };
}

function newRow(call: EmbeddedCall, taskId: string): TaskRow {
  const { label, keywords } = labelOf(call.signature);
  return Object.assign(new TaskRow(), {
    taskId,
    tenantId: call.tenantId,
    signature: call.signature.digest,
    agentName: call.signature.agentName,
    label,
    keywords,
    state: 'candidate',
    centroidSum: null,
    embeddingModel: '',
    embeddingBackend: '',
    callCount: 0,
    revision: 0,
    pendingEvent: null,
    firstSeenAt: call.startTime,
    lastSeenAt: call.startTime,
  } satisfies TaskRow);
}
