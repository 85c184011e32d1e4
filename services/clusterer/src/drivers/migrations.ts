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

/**
 * Task discovery: calls are kept with their embedding and facts, assigned or not, so that
 * re-clustering can revisit them; tasks get a structure, threshold, profile and scores, and can
 * be retired; announcements go through an outbox. Leader-clustering candidates were never
 * announced: their calls become unassigned. Active tasks keep their ids and calls, but those
 * calls carry version-1 signatures and no embedding, which discovery cannot read: the first
 * re-run retires the tasks as dissolved, announced, and new traffic is discovered afresh. Down
 * is lossy: unassigned calls, retired tasks and unpublished events have no place in the old
 * schema.
 */
export class Discovery1767312000000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE signature (
        tenant_id text NOT NULL,
        digest text NOT NULL,
        facts jsonb NOT NULL,
        PRIMARY KEY (tenant_id, digest)
      )`);
    await runner.query(`
      CREATE TABLE tenant_state (
        tenant_id text PRIMARY KEY,
        generation bigint NOT NULL,
        last_run_at timestamptz,
        signature_tasks jsonb NOT NULL,
        place_tasks jsonb NOT NULL,
        embedding_model text NOT NULL
      )`);
    await runner.query(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        tenant_id text NOT NULL,
        event bytea NOT NULL
      )`);

    await runner.query('ALTER TABLE task_member RENAME TO call');
    await runner.query('ALTER TABLE call RENAME CONSTRAINT task_member_pkey TO call_pkey');
    await runner.query('ALTER TABLE call RENAME CONSTRAINT task_member_task_fk TO call_task_fk');
    await runner.query('ALTER INDEX task_member_calls_idx RENAME TO call_task_idx');
    await runner.query('ALTER TABLE call ALTER task_id DROP NOT NULL');
    await runner.query(`
      ALTER TABLE call
        ADD assigned_by text CONSTRAINT call_assigned_by_known
          CHECK (assigned_by IN ('signature', 'place', 'content', 'batch')),
        ADD signature text NOT NULL DEFAULT '',
        ADD received_at timestamptz NOT NULL DEFAULT now(),
        ADD vector bytea,
        ADD embedding_model text NOT NULL DEFAULT '',
        ADD embedding_backend text NOT NULL DEFAULT '',
        ADD terms text[] NOT NULL DEFAULT '{}',
        ADD latency_ms double precision,
        ADD output_json boolean,
        ADD output_tool_call boolean,
        ADD output_digest text`);
    await runner.query(`
      UPDATE call SET signature = task.signature,
        task_id = CASE WHEN task.state = 'active' THEN task.task_id END,
        assigned_by = CASE WHEN task.state = 'active' THEN 'signature' END
      FROM task WHERE task.task_id = call.task_id`);
    await runner.query("DELETE FROM task WHERE state = 'candidate'");
    await runner.query('ALTER TABLE call ALTER signature DROP DEFAULT');
    await runner.query('CREATE INDEX call_window_idx ON call (tenant_id, start_time)');
    await runner.query('CREATE INDEX call_received_idx ON call (tenant_id, received_at)');

    await runner.query(`
      ALTER TABLE task
        DROP CONSTRAINT task_state_known,
        ADD CONSTRAINT task_state_known CHECK (state IN ('active', 'retired')),
        DROP CONSTRAINT task_call_count_positive,
        ADD CONSTRAINT task_call_count_known CHECK (call_count >= 0),
        ADD signatures text[] NOT NULL DEFAULT '{}',
        ADD structure text NOT NULL DEFAULT '',
        ADD centroid double precision[],
        ADD threshold double precision NOT NULL DEFAULT 0.3,
        ADD calls_per_day double precision NOT NULL DEFAULT 0,
        ADD representative_call_ids text[] NOT NULL DEFAULT '{}',
        ADD suitability jsonb NOT NULL DEFAULT '{}',
        ADD savings jsonb NOT NULL DEFAULT '{}',
        ADD profile jsonb NOT NULL DEFAULT '{}',
        ADD announced_call_count bigint NOT NULL DEFAULT 0,
        ADD successor_task_ids text[] NOT NULL DEFAULT '{}',
        ADD retired_reason text NOT NULL DEFAULT ''`);
    // An announcement still owed is owed again: the next run sees the task as grown.
    await runner.query(`
      UPDATE task SET signatures = ARRAY[signature],
        announced_call_count = CASE WHEN pending_event IS NULL THEN call_count ELSE 0 END,
        centroid = (
          SELECT array_agg(value / norm.length ORDER BY position)
          FROM unnest(centroid_sum) WITH ORDINALITY AS part(value, position),
            (SELECT sqrt(sum(value * value)) AS length FROM unnest(centroid_sum) AS value) AS norm
          WHERE norm.length > 0)`);
    await runner.query('ALTER TABLE task DROP centroid_sum, DROP pending_event');
    // Every tenant with calls is listed for re-clustering, with or without new traffic.
    await runner.query(`
      INSERT INTO tenant_state (tenant_id, generation, signature_tasks, place_tasks, embedding_model)
      SELECT DISTINCT tenant_id, 0, '{}'::jsonb, '{}'::jsonb, '' FROM call`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE task
        ADD centroid_sum double precision[],
        ADD pending_event text CONSTRAINT task_pending_event_known
          CHECK (pending_event IN ('discovered', 'updated'))`);
    // Leader clustering kept the sum of its members' unit vectors: the centroid weighs as many.
    await runner.query(`
      UPDATE task SET
        centroid_sum = (
          SELECT array_agg(value * call_count ORDER BY position)
          FROM unnest(centroid) WITH ORDINALITY AS part(value, position)),
        pending_event = CASE WHEN announced_call_count = 0 THEN 'discovered' END`);
    await runner.query(
      "DELETE FROM call WHERE task_id IS NULL OR task_id IN (SELECT task_id FROM task WHERE state = 'retired')",
    );
    await runner.query("DELETE FROM task WHERE state = 'retired' OR call_count = 0");
    await runner.query(`
      ALTER TABLE task
        DROP CONSTRAINT task_state_known,
        ADD CONSTRAINT task_state_known CHECK (state IN ('candidate', 'active')),
        DROP CONSTRAINT task_call_count_known,
        ADD CONSTRAINT task_call_count_positive CHECK (call_count > 0),
        DROP signatures, DROP structure, DROP centroid, DROP threshold, DROP calls_per_day,
        DROP representative_call_ids, DROP suitability, DROP savings, DROP profile,
        DROP announced_call_count, DROP successor_task_ids, DROP retired_reason`);
    await runner.query(
      'CREATE INDEX task_pending_idx ON task (tenant_id, signature) WHERE pending_event IS NOT NULL',
    );
    await runner.query('DROP INDEX call_window_idx');
    await runner.query('DROP INDEX call_received_idx');
    await runner.query(`
      ALTER TABLE call
        DROP assigned_by, DROP signature, DROP received_at, DROP vector, DROP embedding_model,
        DROP embedding_backend, DROP terms, DROP latency_ms, DROP output_json,
        DROP output_tool_call, DROP output_digest`);
    await runner.query('ALTER TABLE call ALTER task_id SET NOT NULL');
    await runner.query('ALTER INDEX call_task_idx RENAME TO task_member_calls_idx');
    await runner.query('ALTER TABLE call RENAME CONSTRAINT call_task_fk TO task_member_task_fk');
    await runner.query('ALTER TABLE call RENAME CONSTRAINT call_pkey TO task_member_pkey');
    await runner.query('ALTER TABLE call RENAME TO task_member');
    await runner.query('DROP TABLE outbox');
    await runner.query('DROP TABLE tenant_state');
    await runner.query('DROP TABLE signature');
  }
}

export const migrations = [CreateTasks1767225600000, Discovery1767312000000];
