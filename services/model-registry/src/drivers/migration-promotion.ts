import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Guarded promotion: evaluations, promotion policies, approvals, the production history that
 * rollbacks return along, each task's last routing revision (for expected_revision), and the
 * responses of non-create changes by request_id.
 */
export class GuardedPromotion1767484800000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE evaluation (
        tenant_id text NOT NULL,
        evaluation_id text NOT NULL,
        model_version_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('offline', 'shadow')),
        request_id text NOT NULL,
        request_digest text NOT NULL,
        body jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, evaluation_id),
        CONSTRAINT evaluation_request_key UNIQUE (tenant_id, request_id),
        CONSTRAINT evaluation_model_version_fk FOREIGN KEY (tenant_id, model_version_id)
          REFERENCES model_version (tenant_id, model_version_id)
      )`);
    // ListEvaluations' keyset order, by version and across the tenant.
    await runner.query(
      'CREATE INDEX evaluation_model_version_idx ON evaluation (tenant_id, model_version_id, created_at, evaluation_id)',
    );
    await runner.query(
      'CREATE INDEX evaluation_created_idx ON evaluation (tenant_id, created_at, evaluation_id)',
    );
    await runner.query(`
      CREATE TABLE promotion_policy (
        tenant_id text NOT NULL,
        task_id text NOT NULL,
        guards jsonb NOT NULL,
        row_version integer NOT NULL,
        updated_at timestamptz NOT NULL,
        updated_by text NOT NULL,
        PRIMARY KEY (tenant_id, task_id)
      )`);
    await runner.query(`
      CREATE TABLE approval (
        tenant_id text NOT NULL,
        approval_id text NOT NULL,
        model_version_id text NOT NULL,
        target_stage text NOT NULL CHECK (target_stage IN ('shadow', 'canary', 'production')),
        approver text NOT NULL CHECK (approver <> ''),
        comment text NOT NULL,
        model_version_etag text NOT NULL,
        request_id text NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, approval_id),
        CONSTRAINT approval_approver_key
          UNIQUE (tenant_id, model_version_id, target_stage, approver),
        CONSTRAINT approval_model_version_fk FOREIGN KEY (tenant_id, model_version_id)
          REFERENCES model_version (tenant_id, model_version_id)
      )`);
    // Who served each task in production, and when. previous_id points at the period that was
    // current when this one began: rollbacks walk back along it, and put back the route as it
    // was when the period ended (its id and tuned settings).
    await runner.query(`
      CREATE TABLE production_period (
        id bigserial PRIMARY KEY,
        tenant_id text NOT NULL,
        task_id text NOT NULL,
        model_version_id text NOT NULL,
        previous_id bigint REFERENCES production_period (id),
        started_at timestamptz NOT NULL,
        started_revision bigint NOT NULL,
        ended_at timestamptz,
        ended_revision bigint,
        end_reason text CHECK (end_reason IN ('replaced', 'rolled_back', 'retired')),
        route jsonb,
        CHECK ((ended_at IS NULL) = (end_reason IS NULL)),
        CONSTRAINT production_period_model_version_fk FOREIGN KEY (tenant_id, model_version_id)
          REFERENCES model_version (tenant_id, model_version_id)
      )`);
    await runner.query(
      'CREATE UNIQUE INDEX production_period_current_key ON production_period (tenant_id, task_id) WHERE ended_at IS NULL',
    );
    await runner.query(`
      CREATE TABLE task_routing (
        tenant_id text NOT NULL,
        task_id text NOT NULL,
        revision bigint NOT NULL,
        PRIMARY KEY (tenant_id, task_id)
      )`);
    await runner.query(`
      CREATE TABLE request_log (
        tenant_id text NOT NULL,
        method text NOT NULL,
        request_id text NOT NULL,
        request_digest text NOT NULL,
        response bytea NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, method, request_id)
      )`);
    // What already serves: its production periods begin now, and its tasks' routes count as
    // changed at the current revision (an older expected_revision is then refused, not let by).
    await runner.query(`
      INSERT INTO production_period
        (tenant_id, task_id, model_version_id, started_at, started_revision)
      SELECT tenant_id, task_id, model_version_id, updated_at,
             (SELECT revision FROM routing_head WHERE id = 1)
      FROM route WHERE stage = 'production'`);
    await runner.query(`
      INSERT INTO task_routing (tenant_id, task_id, revision)
      SELECT DISTINCT tenant_id, task_id, (SELECT revision FROM routing_head WHERE id = 1)
      FROM route`);
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of [
      'request_log',
      'task_routing',
      'production_period',
      'approval',
      'promotion_policy',
      'evaluation',
    ]) {
      await runner.query(`DROP TABLE ${table}`);
    }
  }
}
