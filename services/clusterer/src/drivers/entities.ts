import { Column, Entity, PrimaryColumn, type ValueTransformer } from 'typeorm';

/** pg returns bigint as text; counts and revisions stay far below 2^53. */
const bigint: ValueTransformer = {
  to: (value: number) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

export type TaskState = 'active' | 'retired';

/** A task: a group of calls that do one job, as the last re-clustering found it. */
@Entity('task')
export class TaskRow {
  @PrimaryColumn('uuid', { name: 'task_id' })
  taskId!: string;

  @Column('text', { name: 'tenant_id' })
  tenantId!: string;

  /** Digest of the signature most of the task's calls share. */
  @Column('text')
  signature!: string;

  /** The member signatures' digests, most calls first. */
  @Column('text', { array: true })
  signatures!: string[];

  /** The output contract the task's calls share (`structureKey`). */
  @Column('text')
  structure!: string;

  @Column('text', { name: 'agent_name' })
  agentName!: string;

  @Column('text')
  label!: string;

  @Column('text', { array: true })
  keywords!: string[];

  @Column('text')
  state!: TaskState;

  /** Unit mean of the members' embeddings; null for tasks known by signature alone. */
  @Column('double precision', { array: true, nullable: true })
  centroid!: number[] | null;

  /** Least cosine similarity to the centroid for a new call to join. */
  @Column('double precision')
  threshold!: number;

  @Column('text', { name: 'embedding_model' })
  embeddingModel!: string;

  @Column('text', { name: 'embedding_backend' })
  embeddingBackend!: string;

  @Column('bigint', { name: 'call_count', transformer: bigint })
  callCount!: number;

  /** Calls per day over the trailing week, at the last re-clustering. */
  @Column('double precision', { name: 'calls_per_day' })
  callsPerDay!: number;

  @Column('text', { name: 'representative_call_ids', array: true })
  representativeCallIds!: string[];

  /** SuitabilityScores, SavingsEstimate and TaskProfile as proto JSON. */
  @Column('jsonb')
  suitability!: unknown;

  @Column('jsonb')
  savings!: unknown;

  @Column('jsonb')
  profile!: unknown;

  @Column('bigint', { transformer: bigint })
  revision!: number;

  /** call_count when the task was last announced: updates go out on real growth only. */
  @Column('bigint', { name: 'announced_call_count', transformer: bigint })
  announcedCallCount!: number;

  @Column('text', { name: 'successor_task_ids', array: true })
  successorTaskIds!: string[];

  @Column('text', { name: 'retired_reason' })
  retiredReason!: string;

  @Column('timestamptz', { name: 'first_seen_at' })
  firstSeenAt!: Date;

  @Column('timestamptz', { name: 'last_seen_at' })
  lastSeenAt!: Date;
}

/**
 * A call as the clusterer keeps it: its task (null while unassigned) and what re-clustering and
 * the report need. The primary key makes recording idempotent by call id.
 */
@Entity('call')
export class CallRow {
  @PrimaryColumn('text', { name: 'tenant_id' })
  tenantId!: string;

  @PrimaryColumn('text', { name: 'call_id' })
  callId!: string;

  @Column('uuid', { name: 'task_id', nullable: true })
  taskId!: string | null;

  /** How the call got its task: signature, place, content (online) or batch. */
  @Column('text', { name: 'assigned_by', nullable: true })
  assignedBy!: string | null;

  @Column('text')
  signature!: string;

  @Column('text', { name: 'trace_id' })
  traceId!: string;

  @Column('text', { name: 'span_id' })
  spanId!: string;

  @Column('timestamptz', { name: 'start_time' })
  startTime!: Date;

  /** When the clusterer recorded it: what re-clustering counts fresh calls by. */
  @Column('timestamptz', { name: 'received_at' })
  receivedAt!: Date;

  /** The unit embedding, float32 little-endian; null without content. */
  @Column('bytea', { nullable: true })
  vector!: Buffer | null;

  @Column('text', { name: 'embedding_model' })
  embeddingModel!: string;

  @Column('text', { name: 'embedding_backend' })
  embeddingBackend!: string;

  /** Cosine similarity to the task's centroid when assigned; 0 otherwise. */
  @Column('double precision')
  similarity!: number;

  @Column('text', { array: true })
  terms!: string[];

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

  @Column('double precision', { name: 'latency_ms', nullable: true })
  latencyMs!: number | null;

  @Column('boolean', { name: 'output_json', nullable: true })
  outputJson!: boolean | null;

  @Column('boolean', { name: 'output_tool_call', nullable: true })
  outputToolCall!: boolean | null;

  @Column('text', { name: 'output_digest', nullable: true })
  outputDigest!: string | null;

  @Column('boolean')
  failed!: boolean;
}

/** The structural facts behind a signature digest, which discovery groups calls by. */
@Entity('signature')
export class SignatureRow {
  @PrimaryColumn('text', { name: 'tenant_id' })
  tenantId!: string;

  @PrimaryColumn('text')
  digest!: string;

  /** The StructuralSignature as proto JSON. */
  @Column('jsonb')
  facts!: unknown;
}

/** Per tenant: the last re-clustering, and the maps online assignment reads. */
@Entity('tenant_state')
export class TenantStateRow {
  @PrimaryColumn('text', { name: 'tenant_id' })
  tenantId!: string;

  /** Bumped by every re-clustering, so replicas know when to reload their index. */
  @Column('bigint', { transformer: bigint })
  generation!: number;

  @Column('timestamptz', { name: 'last_run_at', nullable: true })
  lastRunAt!: Date | null;

  /** Signature digest → task id, for signatures that do one job. */
  @Column('jsonb', { name: 'signature_tasks' })
  signatureTasks!: Record<string, string>;

  /** Place key → task id, for calls without content. */
  @Column('jsonb', { name: 'place_tasks' })
  placeTasks!: Record<string, string>;

  /** Embedding model the task centroids are in; '' before the first run. */
  @Column('text', { name: 'embedding_model' })
  embeddingModel!: string;
}

/** TaskEvents committed with the change they announce, deleted once Kafka has them. */
@Entity('outbox')
export class OutboxRow {
  @PrimaryColumn('bigint', { transformer: bigint })
  id!: number;

  @Column('text', { name: 'tenant_id' })
  tenantId!: string;

  /** The TaskEvent, binary protobuf. */
  @Column('bytea')
  event!: Buffer;
}
