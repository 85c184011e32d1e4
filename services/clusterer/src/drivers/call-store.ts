import { toJson } from '@bufbuild/protobuf';
import { StructuralSignatureSchema, type StructuralSignature } from '@understudy/contracts';
import { withDatabaseErrors } from '@understudy/database';
import { Brackets, type DataSource } from 'typeorm';
import type { CallTable } from '../domain/discovery/discovery.js';
import type { SignatureFacts } from '../domain/discovery/structure.js';
import type { CallWindow, WindowCall } from '../domain/recluster.js';
import { CallRow } from './entities.js';
import { signatureFactsOf } from './signatures.js';

/** A CallEmbedded, as the clusterer keeps it. */
export interface ObservedCall {
  readonly tenantId: string;
  readonly callId: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly startTime: Date;
  readonly signature: StructuralSignature;
  /** The unit embedding; undefined without content. */
  readonly vector: Float32Array | undefined;
  readonly embeddingModel: string;
  readonly embeddingBackend: string;
  readonly terms: readonly string[];
  readonly contentHash: string;
  readonly contentCaptured: boolean;
  readonly provider: string;
  readonly requestModel: string;
  readonly inputTokens: number | undefined;
  readonly outputTokens: number | undefined;
  readonly latencyMs: number | undefined;
  readonly output:
    { readonly json: boolean; readonly toolCall: boolean; readonly digest: string } | undefined;
  readonly failed: boolean;
}

/** Where online assignment put a call. */
export interface Placement {
  readonly taskId: string;
  readonly by: 'signature' | 'place' | 'content';
  readonly similarity: number;
}

export interface MemberQuery {
  readonly start?: Date;
  readonly end?: Date;
  readonly contentCapturedOnly: boolean;
  /** Keyset: the (start_time, call_id) of the last member already returned. */
  readonly after?: { readonly startTime: Date; readonly callId: string };
  readonly limit: number;
}

export interface ModelStatistics {
  readonly provider: string;
  readonly requestModel: string;
  readonly callCount: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface TaskStatistics {
  readonly callCount: number;
  readonly contentCapturedCount: number;
  readonly errorCount: number;
  readonly firstSeenAt: Date | undefined;
  readonly lastSeenAt: Date | undefined;
  readonly models: readonly ModelStatistics[];
}

/** Calls in PostgreSQL (schema `clusterer`): recorded once each, read back by window or task. */
export class CallStore {
  /**
   * (tenant, signature) pairs whose signature and tenant rows exist: they are never deleted, so
   * a call of a known signature costs one insert, not three. Bounded like any per-call cache.
   */
  private readonly known = new Set<string>();

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Records a call with its online placement, once: a redelivered call changes nothing, so its
   * first placement stands. Each statement is idempotent, so a crash between them is repaired by
   * the redelivery.
   */
  async record(call: ObservedCall, placement: Placement | undefined): Promise<void> {
    const key = JSON.stringify([call.tenantId, call.signature.digest]);
    await withDatabaseErrors(async () => {
      if (!this.known.has(key)) {
        await this.dataSource.query(
          `INSERT INTO signature (tenant_id, digest, facts) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING`,
          [call.tenantId, call.signature.digest, toJson(StructuralSignatureSchema, call.signature)],
        );
        await this.dataSource.query(
          `INSERT INTO tenant_state (tenant_id, generation, signature_tasks, place_tasks, embedding_model)
           VALUES ($1, 0, '{}', '{}', '') ON CONFLICT DO NOTHING`,
          [call.tenantId],
        );
        if (this.known.size >= 65_536) this.known.clear();
        this.known.add(key);
      }
      await this.dataSource
        .createQueryBuilder()
        .insert()
        .into(CallRow)
        .values({
          tenantId: call.tenantId,
          callId: call.callId,
          taskId: placement?.taskId ?? null,
          assignedBy: placement?.by ?? null,
          signature: call.signature.digest,
          traceId: call.traceId,
          spanId: call.spanId,
          startTime: call.startTime,
          receivedAt: new Date(),
          vector: call.vector === undefined ? null : encodeVector(call.vector),
          embeddingModel: call.embeddingModel,
          embeddingBackend: call.embeddingBackend,
          similarity: placement?.similarity ?? 0,
          terms: [...call.terms],
          contentCaptured: call.contentCaptured,
          contentHash: call.contentHash,
          provider: call.provider,
          requestModel: call.requestModel,
          inputTokens: call.inputTokens ?? null,
          outputTokens: call.outputTokens ?? null,
          latencyMs: call.latencyMs ?? null,
          outputJson: call.output?.json ?? null,
          outputToolCall: call.output?.toolCall ?? null,
          outputDigest: call.output?.digest ?? null,
          failed: call.failed,
        })
        .orIgnore()
        .execute();
    });
  }

  /**
   * Calls recorded after `since` (all with null), counted up to `limit`, and when the oldest of
   * them was recorded.
   */
  async freshCalls(
    tenantId: string,
    since: Date | null,
    limit: number,
  ): Promise<{ count: number; oldest: Date | undefined }> {
    const [row] = await withDatabaseErrors(() =>
      this.dataSource.query<{ count: string; oldest: Date | null }[]>(
        `SELECT (SELECT count(*) FROM (SELECT 1 FROM call WHERE tenant_id = $1
                   AND ($2::timestamptz IS NULL OR received_at > $2) LIMIT $3) AS fresh) AS count,
                (SELECT min(received_at) FROM call WHERE tenant_id = $1
                   AND ($2::timestamptz IS NULL OR received_at > $2)) AS oldest`,
        [tenantId, since, limit],
      ),
    );
    return { count: Number(row?.count ?? 0), oldest: row?.oldest ?? undefined };
  }

  /**
   * The tenant's newest calls that started at or after `since`, at most `limit`, oldest first,
   * as a discovery table. Vectors of another model than the newest call's count as absent: a
   * backend switch must not mix spaces.
   */
  async window(
    tenantId: string,
    since: Date,
    now: Date,
    limit: number,
  ): Promise<CallWindow & { readonly model: string; readonly backend: string }> {
    const rows = await withDatabaseErrors(() =>
      this.dataSource
        .getRepository(CallRow)
        .createQueryBuilder('call')
        .where('call.tenant_id = :tenantId AND call.start_time >= :since', { tenantId, since })
        .orderBy('call.start_time', 'DESC')
        .addOrderBy('call.call_id', 'DESC')
        .limit(limit)
        .getMany(),
    );
    rows.reverse();
    const signatureRows = await withDatabaseErrors(() =>
      this.dataSource.query<{ digest: string; facts: unknown }[]>(
        'SELECT digest, facts FROM signature WHERE tenant_id = $1 AND digest = ANY($2)',
        [tenantId, [...new Set(rows.map((row) => row.signature))]],
      ),
    );
    const newest = rows.findLast((row) => row.vector !== null);
    const model = newest?.embeddingModel ?? '';
    const dimension =
      newest?.vector === null || newest === undefined ? 0 : newest.vector.length / 4;
    const signatures: SignatureFacts[] = signatureRows.map((row) => signatureFactsOf(row.facts));
    const signatureIndex = new Map(signatures.map((signature, i) => [signature.digest, i]));
    const table = {
      dimension,
      vectors: new Float32Array(rows.length * dimension),
      hasVector: new Uint8Array(rows.length),
      signatureOf: new Int32Array(rows.length),
      signatures,
    } satisfies CallTable;
    const calls = rows.map((row, i): WindowCall => {
      table.signatureOf[i] = signatureIndex.get(row.signature) ?? -1;
      if (
        row.vector !== null &&
        row.embeddingModel === model &&
        row.vector.length === dimension * 4
      ) {
        decodeVector(row.vector, table.vectors, i * dimension);
        table.hasVector[i] = 1;
      }
      return {
        callId: row.callId,
        taskId: row.taskId,
        terms: row.terms,
        startMs: row.startTime.getTime(),
        provider: row.provider,
        requestModel: row.requestModel,
        inputTokens: row.inputTokens ?? undefined,
        outputTokens: row.outputTokens ?? undefined,
        latencyMs: row.latencyMs ?? undefined,
        failed: row.failed,
        contentCaptured: row.contentCaptured,
        contentHash: row.contentHash,
        similarity: undefined,
        output:
          row.outputDigest === null
            ? undefined
            : {
                json: row.outputJson === true,
                toolCall: row.outputToolCall === true,
                digest: row.outputDigest,
              },
      };
    });
    return {
      startMs: rows[0]?.startTime.getTime() ?? now.getTime(),
      endMs: now.getTime(),
      table,
      calls,
      model,
      backend: newest?.embeddingBackend ?? '',
    };
  }

  /** A task's calls and figures, as they stand (online assignments included). */
  async statistics(tenantId: string, taskId: string): Promise<TaskStatistics> {
    const members = this.dataSource.getRepository(CallRow);
    const where = 'member.tenant_id = :tenantId AND member.task_id = :taskId';
    const [totals, models] = await withDatabaseErrors(() =>
      Promise.all([
        members
          .createQueryBuilder('member')
          .select('count(*)', 'calls')
          .addSelect('count(*) FILTER (WHERE member.content_captured)', 'captured')
          .addSelect('count(*) FILTER (WHERE member.failed)', 'failed')
          .addSelect('min(member.start_time)', 'first')
          .addSelect('max(member.start_time)', 'last')
          .where(where, { tenantId, taskId })
          .getRawOne<{
            calls: string;
            captured: string;
            failed: string;
            first: Date | null;
            last: Date | null;
          }>(),
        members
          .createQueryBuilder('member')
          .select('member.provider', 'provider')
          .addSelect('member.request_model', 'model')
          .addSelect('count(*)', 'calls')
          .addSelect('coalesce(sum(member.input_tokens), 0)', 'input')
          .addSelect('coalesce(sum(member.output_tokens), 0)', 'output')
          .where(where, { tenantId, taskId })
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
      callCount: Number(totals?.calls ?? 0),
      contentCapturedCount: Number(totals?.captured ?? 0),
      errorCount: Number(totals?.failed ?? 0),
      firstSeenAt: totals?.first ?? undefined,
      lastSeenAt: totals?.last ?? undefined,
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
  members(tenantId: string, taskId: string, query: MemberQuery): Promise<CallRow[]> {
    const builder = this.dataSource
      .getRepository(CallRow)
      .createQueryBuilder('member')
      .where('member.tenant_id = :tenantId AND member.task_id = :taskId', { tenantId, taskId });
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
    return withDatabaseErrors(() =>
      builder
        .orderBy('member.start_time', 'ASC')
        .addOrderBy('member.call_id', 'ASC')
        .limit(query.limit)
        .getMany(),
    );
  }
}

function encodeVector(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/** Reads float32 LE values into `into` at `offset` (bytea rows are not 4-byte aligned). */
function decodeVector(bytes: Buffer, into: Float32Array, offset: number): void {
  for (let k = 0; k < bytes.length / 4; k++) into[offset + k] = bytes.readFloatLE(k * 4);
}
