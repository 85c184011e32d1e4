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
];
