import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Column types are explicit so the entity does not depend on emitted decorator metadata. */
@Entity('training_run')
export class TrainingRunRow {
  @PrimaryColumn('uuid', { name: 'run_id' })
  runId!: string;

  @Column('text', { name: 'tenant_id' })
  tenantId!: string;

  @Column('text', { name: 'task_id' })
  taskId!: string;

  @Column('text', { name: 'dataset_id' })
  datasetId!: string;

  @Column('text', { name: 'dataset_uri' })
  datasetUri!: string;

  @Column('text', { name: 'base_model' })
  baseModel!: string;

  @Column('jsonb', { name: 'hyper_parameters' })
  hyperParameters!: object;

  @Column('jsonb')
  resources!: { accelerator: string; acceleratorCount: number; queue: string };

  @Column('text', { name: 'request_id' })
  requestId!: string;

  @Column('text')
  fingerprint!: string;

  @Column('text', { name: 'requested_by' })
  requestedBy!: string;

  @Column('text')
  state!: string;

  @Column('integer')
  attempt!: number;

  @Column('text', { name: 'output_uri' })
  outputUri!: string;

  @Column('text', { name: 'job_name', nullable: true })
  jobName!: string | null;

  @Column('jsonb', { nullable: true })
  progress!: object | null;

  @Column('text', { name: 'adapter_uri', nullable: true })
  adapterUri!: string | null;

  @Column('jsonb')
  metrics!: Record<string, number>;

  @Column('jsonb', { nullable: true })
  result!: object | null;

  @Column('jsonb', { nullable: true })
  failure!: { reason: string; retryable: boolean } | null;

  @Column('text', { name: 'cancel_reason', nullable: true })
  cancelReason!: string | null;

  @Column('text', { name: 'model_version_id', nullable: true })
  modelVersionId!: string | null;

  @Column('boolean')
  announced!: boolean;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'started_at', nullable: true })
  startedAt!: Date | null;

  @Column('timestamptz', { name: 'finished_at', nullable: true })
  finishedAt!: Date | null;

  @Column('integer')
  version!: number;
}
