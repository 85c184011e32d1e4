import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The transactional outbox (events written with the change that caused them, relayed to Kafka
 * after commit) and the append-only audit log.
 */
export class OutboxAndAudit1767312000000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    // id order is commit order per key: every key's writes are serialised by a lock (the task
    // lock for model versions, the routing_head row for routes), so the relay publishes in id
    // order and a key's events keep theirs.
    await runner.query(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        key text NOT NULL,
        event_id text NOT NULL UNIQUE,
        payload bytea NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await runner.query(`
      CREATE TABLE audit_entry (
        seq bigserial PRIMARY KEY,
        audit_entry_id uuid NOT NULL UNIQUE,
        tenant_id text NOT NULL,
        occurred_at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        resource_type text NOT NULL,
        resource_id text NOT NULL,
        request_id text NOT NULL,
        reason text NOT NULL,
        details jsonb NOT NULL,
        trace_id text NOT NULL
      )`);
    await runner.query(
      'CREATE INDEX audit_entry_time_idx ON audit_entry (tenant_id, occurred_at DESC, seq DESC)',
    );
    await runner.query(
      'CREATE INDEX audit_entry_resource_idx ON audit_entry (tenant_id, resource_type, resource_id, seq)',
    );
    await runner.query('CREATE INDEX audit_entry_actor_idx ON audit_entry (tenant_id, actor, seq)');
    // Append-only in the database itself, not just by convention in the code: a bug or a hand-run
    // statement cannot rewrite history. (The owning role can still drop the trigger.)
    await runner.query(`
      CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_entry is append-only: % refused', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await runner.query(`
      CREATE TRIGGER audit_entry_no_update_delete BEFORE UPDATE OR DELETE ON audit_entry
        FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()`);
    await runner.query(`
      CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
        FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE audit_entry');
    await runner.query('DROP FUNCTION audit_entry_append_only()');
    await runner.query('DROP TABLE outbox');
  }
}
