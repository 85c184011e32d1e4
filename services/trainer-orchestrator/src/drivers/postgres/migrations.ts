import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateTrainingRuns1767225600000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE training_run (
        run_id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        task_id text NOT NULL,
        dataset_id text NOT NULL,
        dataset_uri text NOT NULL,
        base_model text NOT NULL,
        hyper_parameters jsonb NOT NULL,
        resources jsonb NOT NULL,
        request_id text NOT NULL,
        fingerprint text NOT NULL,
        state text NOT NULL CONSTRAINT training_run_state_known CHECK (
          state IN ('requested', 'submitted', 'running', 'succeeded', 'failed', 'cancelled')),
        attempt integer NOT NULL,
        output_uri text NOT NULL,
        job_name text,
        progress jsonb,
        adapter_uri text,
        metrics jsonb NOT NULL,
        failure jsonb,
        cancel_reason text,
        model_version_id text,
        announced boolean NOT NULL,
        created_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        version integer NOT NULL
      )`);
    // Idempotency: one run per request (a SubmitTrainingRun request_id or a dataset's key).
    await runner.query(
      'CREATE UNIQUE INDEX training_run_request_idx ON training_run (tenant_id, request_id)',
    );
    await runner.query(
      'CREATE INDEX training_run_tenant_created_idx ON training_run (tenant_id, created_at DESC, run_id DESC)',
    );
    // Boot scans only the runs it still has to drive.
    await runner.query(`
      CREATE INDEX training_run_pending_idx ON training_run (created_at)
        WHERE state NOT IN ('succeeded', 'failed', 'cancelled')
          OR NOT announced
          OR (state = 'succeeded' AND model_version_id IS NULL)`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE training_run');
  }
}

/**
 * Lineage for the registry: who asked for each run (runs from before are '', unknown), and what
 * the trainer reported of a succeeded run beyond its metrics (adapter files, footprint, licence,
 * held-out evaluation), kept until the model version and its evaluation are registered.
 */
export class AddRunLineage1767830400000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE training_run
        ADD COLUMN requested_by text NOT NULL DEFAULT '',
        ADD COLUMN result jsonb`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE training_run DROP COLUMN result, DROP COLUMN requested_by');
  }
}

export const migrations = [CreateTrainingRuns1767225600000, AddRunLineage1767830400000];
