import { Column, Entity, PrimaryColumn, type ValueTransformer } from 'typeorm';

/** pg returns bigint as text; counts and revisions stay far below 2^53. */
const bigint: ValueTransformer = {
  to: (value: number) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** A cluster of calls: a candidate until it is large enough, then a task. */
@Entity('task')
export class TaskRow {
  @PrimaryColumn('uuid', { name: 'task_id' })
  taskId!: string;

  @Column('text', { name: 'tenant_id' })
  tenantId!: string;

  /** Digest of the structural signature shared by the task's calls. */
  @Column('text')
  signature!: string;

  @Column('text', { name: 'agent_name' })
  agentName!: string;

  @Column('text')
  label!: string;

  @Column('text', { array: true })
  keywords!: string[];

  @Column('text')
  state!: 'candidate' | 'active';

  @Column('double precision', { name: 'centroid_sum', array: true, nullable: true })
  centroidSum!: number[] | null;

  @Column('text', { name: 'embedding_model' })
  embeddingModel!: string;

  @Column('text', { name: 'embedding_backend' })
  embeddingBackend!: string;

  @Column('bigint', { name: 'call_count', transformer: bigint })
  callCount!: number;

  @Column('bigint', { transformer: bigint })
  revision!: number;

  /** The TaskEvent owed for the latest change; cleared once published (a one-row outbox). */
  @Column('text', { name: 'pending_event', nullable: true })
  pendingEvent!: 'discovered' | 'updated' | null;

  @Column('timestamptz', { name: 'first_seen_at' })
  firstSeenAt!: Date;

  @Column('timestamptz', { name: 'last_seen_at' })
  lastSeenAt!: Date;
}

/** A call's membership; its primary key makes assignment idempotent by call id. */
@Entity('task_member')
export class TaskMemberRow {
  @PrimaryColumn('text', { name: 'tenant_id' })
  tenantId!: string;

  @PrimaryColumn('text', { name: 'call_id' })
  callId!: string;

  @Column('uuid', { name: 'task_id' })
  taskId!: string;

  @Column('text', { name: 'trace_id' })
  traceId!: string;

  @Column('text', { name: 'span_id' })
  spanId!: string;

  @Column('timestamptz', { name: 'start_time' })
  startTime!: Date;

  @Column('double precision')
  similarity!: number;

  @Column('boolean', { name: 'content_captured' })
  contentCaptured!: boolean;

  @Column('text', { name: 'content_hash' })
  contentHash!: string;

  @Column('text')
  provider!: string;

  @Column('text', { name: 'request_model' })
  requestModel!: string;

  @Column('bigint', { name: 'input_tokens', nullable: true, transformer: bigint })
  inputTokens!: number | null;

  @Column('bigint', { name: 'output_tokens', nullable: true, transformer: bigint })
  outputTokens!: number | null;

  @Column('boolean')
  failed!: boolean;
}
