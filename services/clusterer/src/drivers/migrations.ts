import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateTasks1767225600000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE task (
        task_id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        signature text NOT NULL,
        agent_name text NOT NULL,
        label text NOT NULL,
        keywords text[] NOT NULL,
        state text NOT NULL CONSTRAINT task_state_known CHECK (state IN ('candidate', 'active')),
        centroid_sum double precision[],
        embedding_model text NOT NULL,
        embedding_backend text NOT NULL,
        call_count bigint NOT NULL CONSTRAINT task_call_count_positive CHECK (call_count > 0),
        revision bigint NOT NULL,
        pending_event text CONSTRAINT task_pending_event_known
          CHECK (pending_event IN ('discovered', 'updated')),
        first_seen_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL
      )`);
    await runner.query('CREATE INDEX task_group_idx ON task (tenant_id, signature)');
    await runner.query(
      'CREATE INDEX task_pending_idx ON task (tenant_id, signature) WHERE pending_event IS NOT NULL',
    );
    await runner.query(`
      CREATE TABLE task_member (
        tenant_id text NOT NULL,
        call_id text NOT NULL,
        task_id uuid NOT NULL CONSTRAINT task_member_task_fk REFERENCES task (task_id),
        trace_id text NOT NULL,
        span_id text NOT NULL,
        start_time timestamptz NOT NULL,
        similarity double precision NOT NULL,
        content_captured boolean NOT NULL,
        content_hash text NOT NULL,
        provider text NOT NULL,
        request_model text NOT NULL,
        input_tokens bigint,
        output_tokens bigint,
        failed boolean NOT NULL,
        PRIMARY KEY (tenant_id, call_id)
      )`);
    await runner.query(
      'CREATE INDEX task_member_calls_idx ON task_member (task_id, start_time, call_id)',
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE task_member');
    await runner.query('DROP TABLE task');
  }
}

export const migrations = [CreateTasks1767225600000];
