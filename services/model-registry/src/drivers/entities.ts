import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { StageName } from '../domain/stages.js';

/*
 * Rows of the `registry` schema (see migrations.ts). Column types are explicit so that the
 * entities do not depend on emitted decorator metadata. Keys and the fields queries filter or
 * sort on are columns; nested messages that are only ever read whole are JSONB in proto JSON.
 * Every table is keyed by tenant first: every query names the tenant.
 */

@Entity('task')
export class TaskRow {
  @PrimaryColumn('text', { name: 'tenant_id' }) tenantId!: string;
  @PrimaryColumn('text', { name: 'task_id' }) taskId!: string;
  /** The clusterer's revision; older ones are ignored. bigint arrives as a string. */
  @Column('bigint') revision!: string;
  @Column('text') state!: string;
  /** The whole Task as proto JSON. */
  @Column('jsonb') body!: object;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
  /* Copied out of the body for ListTasks' filters and orders. */
  @Column('text', { name: 'agent_name' }) agentName!: string;
  /** The overall suitability score. */
  @Column('double precision') suitability!: number;
  @Column('double precision', { name: 'savings_per_month' }) savingsPerMonth!: number;
  /** bigint arrives as a string. */
  @Column('bigint', { name: 'call_count' }) callCount!: string;
  /** In milliseconds; the epoch when the clusterer gave none. */
  @Column('timestamptz', { name: 'last_seen_at' }) lastSeenAt!: Date;
}

@Entity('training_run')
export class TrainingRunRow {
  @PrimaryColumn('text', { name: 'tenant_id' }) tenantId!: string;
  @PrimaryColumn('text', { name: 'run_id' }) runId!: string;
  @Column('text', { name: 'task_id' }) taskId!: string;
  @Column('text', { name: 'dataset_id' }) datasetId!: string;
  @Column('text') state!: string;
  /** The whole TrainingRun as proto JSON, as built from its events. */
  @Column('jsonb') body!: object;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
}

@Entity('processed_event')
export class ProcessedEventRow {
  @PrimaryColumn('text') consumer!: string;
  @PrimaryColumn('text', { name: 'event_id' }) eventId!: string;
  @Column('timestamptz', { name: 'processed_at' }) processedAt!: Date;
}

@Entity('dataset')
export class DatasetRow {
  @PrimaryColumn('text', { name: 'tenant_id' }) tenantId!: string;
  @PrimaryColumn('text', { name: 'dataset_id' }) datasetId!: string;
  @Column('text', { name: 'task_id' }) taskId!: string;
  @Column('integer') version!: number;
  @Column('text', { name: 'request_id' }) requestId!: string;
  @Column('text', { name: 'request_digest' }) requestDigest!: string;
  /** The whole Dataset as proto JSON, version and created_at included. */
  @Column('jsonb') body!: object;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}

@Entity('model_version')
export class ModelVersionRow {
  @PrimaryColumn('text', { name: 'tenant_id' }) tenantId!: string;
  @PrimaryColumn('text', { name: 'model_version_id' }) modelVersionId!: string;
  @Column('text', { name: 'task_id' }) taskId!: string;
  @Column('text', { name: 'run_id' }) runId!: string;
  @Column('text', { name: 'dataset_id' }) datasetId!: string;
  @Column('integer') version!: number;
  @Column('text', { name: 'base_model' }) baseModel!: string;
  /** AdapterArtifact as proto JSON. */
  @Column('jsonb') adapter!: object;
  @Column('text', { name: 'serving_name' }) servingName!: string;
  @Column('text') stage!: StageName;
  @Column('integer', { name: 'traffic_percent' }) trafficPercent!: number;
  @Column('jsonb') metrics!: Record<string, number>;
  @Column('text') description!: string;
  @Column('jsonb') labels!: Record<string, string>;
  @Column('text', { name: 'request_id' }) requestId!: string;
  @Column('text', { name: 'request_digest' }) requestDigest!: string;
  /** Bumped by every update; the etag. */
  @Column('integer', { name: 'row_version' }) rowVersion!: number;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
  /** SPDX id; empty when the registrant gave none. */
  @Column('text') license!: string;
  @Column('text', { name: 'registered_by' }) registeredBy!: string;
  /** ModelFootprint as proto JSON; `{}` when the registrant gave none. */
  @Column('jsonb') footprint!: object;
}

@Entity('route')
export class RouteRow {
  @PrimaryColumn('text', { name: 'tenant_id' }) tenantId!: string;
  @PrimaryColumn('text', { name: 'route_id' }) routeId!: string;
  @Column('text', { name: 'task_id' }) taskId!: string;
  @Column('text', { name: 'model_version_id' }) modelVersionId!: string;
  @Column('text') endpoint!: string;
  @Column('text', { name: 'serving_name' }) servingName!: string;
  @Column('text') stage!: StageName;
  @Column('integer', { name: 'traffic_percent' }) trafficPercent!: number;
  @Column('double precision', { name: 'min_confidence' }) minConfidence!: number;
  /** FallbackPolicy as proto JSON. */
  @Column('jsonb') fallback!: object;
  @Column('integer', { name: 'row_version' }) rowVersion!: number;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
}

/** One change of the routing table: a tenant's routes after it, at a revision. */
@Entity('routing_change')
export class RoutingChangeRow {
  @PrimaryColumn('bigint') revision!: string;
  @Column('text', { name: 'tenant_id' }) tenantId!: string;
  /** The tenant's Routes after the change, as proto JSON. */
  @Column('jsonb') routes!: object;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}

/** An event waiting for the relay; deleted once Kafka has it. */
@Entity('outbox')
export class OutboxRow {
  /** Assigned by the database; bigint arrives as a string. */
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id!: string;
  @Column('text') topic!: string;
  @Column('text') key!: string;
  @Column('text', { name: 'event_id' }) eventId!: string;
  /** The event in binary protobuf, exactly as it will be published. */
  @Column('bytea') payload!: Buffer;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}

/** One audit log entry; the table refuses updates and deletes (see the migration). */
@Entity('audit_entry')
export class AuditEntryRow {
  /** Insertion order, the tie-breaker of equal times; bigint arrives as a string. */
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) seq!: string;
  @Column('uuid', { name: 'audit_entry_id' }) auditEntryId!: string;
  @Column('text', { name: 'tenant_id' }) tenantId!: string;
  @Column('timestamptz', { name: 'occurred_at' }) occurredAt!: Date;
  @Column('text') actor!: string;
  @Column('text') action!: string;
  /** ResourceType name, e.g. `MODEL_VERSION`. */
  @Column('text', { name: 'resource_type' }) resourceType!: string;
  @Column('text', { name: 'resource_id' }) resourceId!: string;
  @Column('text', { name: 'request_id' }) requestId!: string;
  @Column('text') reason!: string;
  @Column('jsonb') details!: object;
  @Column('text', { name: 'trace_id' }) traceId!: string;
}

/** An evaluation of a model version; guards read it from the body. */
@Entity('evaluation')
export class EvaluationRow {
  @PrimaryColumn('text', { name: 'tenant_id' }) tenantId!: string;
  @PrimaryColumn('text', { name: 'evaluation_id' }) evaluationId!: string;
  @Column('text', { name: 'model_version_id' }) modelVersionId!: string;
  @Column('text') kind!: 'offline' | 'shadow';
  @Column('text', { name: 'request_id' }) requestId!: string;
  @Column('text', { name: 'request_digest' }) requestDigest!: string;
  /** The whole Evaluation as proto JSON. */
  @Column('jsonb') body!: object;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}

/** A task's promotion guards; task_id '' holds the tenant's default. */
@Entity('promotion_policy')
export class PromotionPolicyRow {
  @PrimaryColumn('text', { name: 'tenant_id' }) tenantId!: string;
  @PrimaryColumn('text', { name: 'task_id' }) taskId!: string;
  /** PromotionGuards as proto JSON. */
  @Column('jsonb') guards!: object;
  /** Bumped by every update; the etag. */
  @Column('integer', { name: 'row_version' }) rowVersion!: number;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
  @Column('text', { name: 'updated_by' }) updatedBy!: string;
}

/** One approver's consent to a version entering a stage, at the version's etag then. */
@Entity('approval')
export class ApprovalRow {
  @PrimaryColumn('text', { name: 'tenant_id' }) tenantId!: string;
  @PrimaryColumn('text', { name: 'approval_id' }) approvalId!: string;
  @Column('text', { name: 'model_version_id' }) modelVersionId!: string;
  @Column('text', { name: 'target_stage' }) targetStage!: StageName;
  @Column('text') approver!: string;
  @Column('text') comment!: string;
  @Column('text', { name: 'model_version_etag' }) modelVersionEtag!: string;
  @Column('text', { name: 'request_id' }) requestId!: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}

/** A stretch of time one version served a task in production. */
@Entity('production_period')
export class ProductionPeriodRow {
  /** bigint arrives as a string. */
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id!: string;
  @Column('text', { name: 'tenant_id' }) tenantId!: string;
  @Column('text', { name: 'task_id' }) taskId!: string;
  @Column('text', { name: 'model_version_id' }) modelVersionId!: string;
  /** The period that was current when this one began; where a rollback returns. */
  @Column('bigint', { name: 'previous_id', nullable: true }) previousId!: string | null;
  @Column('timestamptz', { name: 'started_at' }) startedAt!: Date;
  @Column('bigint', { name: 'started_revision' }) startedRevision!: string;
  @Column('timestamptz', { name: 'ended_at', nullable: true }) endedAt!: Date | null;
  @Column('bigint', { name: 'ended_revision', nullable: true }) endedRevision!: string | null;
  @Column('text', { name: 'end_reason', nullable: true }) endReason!:
    'replaced' | 'rolled_back' | 'retired' | null;
  /** The version's route as it was when the period ended, for a rollback to restore. */
  @Column('jsonb', { nullable: true }) route!: RetainedRoute | null;
}

/** What a production period keeps of its route: its identity and its tuned settings. */
export interface RetainedRoute {
  readonly routeId: string;
  readonly endpoint: string;
  readonly minConfidence: number;
  /** FallbackPolicy as proto JSON. */
  readonly fallback: object;
  readonly rowVersion: number;
}

/** The routing table revision of each task's latest route change. */
@Entity('task_routing')
export class TaskRoutingRow {
  @PrimaryColumn('text', { name: 'tenant_id' }) tenantId!: string;
  @PrimaryColumn('text', { name: 'task_id' }) taskId!: string;
  @Column('bigint') revision!: string;
}

/** The response to a change made by request_id, returned again when the request is repeated. */
@Entity('request_log')
export class RequestLogRow {
  @PrimaryColumn('text', { name: 'tenant_id' }) tenantId!: string;
  /** The RPC, e.g. `PromoteModelVersion`. */
  @PrimaryColumn('text') method!: string;
  @PrimaryColumn('text', { name: 'request_id' }) requestId!: string;
  @Column('text', { name: 'request_digest' }) requestDigest!: string;
  /** The response message in binary protobuf. */
  @Column('bytea') response!: Buffer;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}

export const entities = [
  TaskRow,
  TrainingRunRow,
  ProcessedEventRow,
  DatasetRow,
  ModelVersionRow,
  RouteRow,
  RoutingChangeRow,
  OutboxRow,
  AuditEntryRow,
  EvaluationRow,
  PromotionPolicyRow,
  ApprovalRow,
  ProductionPeriodRow,
  TaskRoutingRow,
  RequestLogRow,
];
