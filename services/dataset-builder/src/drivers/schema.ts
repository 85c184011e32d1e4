import { Column, Entity, PrimaryColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/** A captured call, kept whole (serialized LlmCall) because the contract has no call-content RPC. */
@Entity('calls')
export class CallRow {
  @PrimaryColumn('text', { name: 'tenant_id' })
  tenantId!: string;

  @PrimaryColumn('text', { name: 'call_id' })
  callId!: string;

  @Column('bytea')
  call!: Buffer;
}

/** The latest membership the clusterer announced for a task. */
@Entity('tasks')
export class TaskRow {
  @PrimaryColumn('text', { name: 'tenant_id' })
  tenantId!: string;

  @PrimaryColumn('text', { name: 'task_id' })
  taskId!: string;

  @Column('bigint')
  revision!: string;

  @Column('boolean')
  retired!: boolean;

  @Column('text', { name: 'member_call_ids', array: true })
  memberCallIds!: string[];
}

/** One dataset build, claimed before its objects are written. */
@Entity('builds')
export class BuildRow {
  @PrimaryColumn('text', { name: 'dataset_id' })
  datasetId!: string;

  @Column('text', { name: 'tenant_id' })
  tenantId!: string;

  @Column('text', { name: 'task_id' })
  taskId!: string;

  @Column('text', { name: 'request_id' })
  requestId!: string;

  @Column('text')
  state!: 'building' | 'ready' | 'failed';

  @Column('text', { name: 'failure_reason', nullable: true })
  failureReason!: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'finished_at', nullable: true })
  finishedAt!: Date | null;

  /** The registry's Dataset once ready (serialized), so the event can be published again. */
  @Column('bytea', { nullable: true })
  dataset!: Buffer | null;
}

export class CreateDatasetTables1767225600000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE calls (
        tenant_id text NOT NULL,
        call_id text NOT NULL,
        call bytea NOT NULL,
        PRIMARY KEY (tenant_id, call_id)
      )`);
    await runner.query(`
      CREATE TABLE tasks (
        tenant_id text NOT NULL,
        task_id text NOT NULL,
        revision bigint NOT NULL,
        retired boolean NOT NULL,
        member_call_ids text[] NOT NULL,
        PRIMARY KEY (tenant_id, task_id)
      )`);
    // Finds the tasks a newly captured call belongs to.
    await runner.query('CREATE INDEX tasks_members_idx ON tasks USING gin (member_call_ids)');
    await runner.query(`
      CREATE TABLE builds (
        dataset_id text PRIMARY KEY,
        tenant_id text NOT NULL,
        task_id text NOT NULL,
        request_id text NOT NULL,
        state text NOT NULL CONSTRAINT builds_state_check
          CHECK (state IN ('building', 'ready', 'failed')),
        failure_reason text,
        created_at timestamptz NOT NULL,
        finished_at timestamptz,
        dataset bytea
      )`);
    await runner.query('CREATE INDEX builds_task_idx ON builds (tenant_id, task_id)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE builds');
    await runner.query('DROP TABLE tasks');
    await runner.query('DROP TABLE calls');
  }
}

export const entities = [CallRow, TaskRow, BuildRow];
export const migrations = [CreateDatasetTables1767225600000];
