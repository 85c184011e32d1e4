import type { MigrationInterface, QueryRunner } from 'typeorm';
import { OutboxAndAudit1767312000000 } from './migration-outbox.js';
import { GuardedPromotion1767484800000 } from './migration-promotion.js';
import { Records1767398400000 } from './migration-records.js';
import { RoutingRetention1767571200000 } from './migration-routing.js';

/** The registry's first schema: read views, datasets, model versions, routes, revisions. */
export class CreateRegistry1767225600000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE task (
        tenant_id text NOT NULL,
        task_id text NOT NULL,
        revision bigint NOT NULL,
        state text NOT NULL,
        body jsonb NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, task_id)
      )`);
    await runner.query(`
      CREATE TABLE training_run (
        tenant_id text NOT NULL,
        run_id text NOT NULL,
        task_id text NOT NULL,
        dataset_id text NOT NULL,
        state text NOT NULL,
        body jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, run_id)
      )`);
    await runner.query('CREATE INDEX training_run_task_idx ON training_run (tenant_id, task_id)');
    await runner.query(`
      CREATE TABLE processed_event (
        consumer text NOT NULL,
        event_id text NOT NULL,
        processed_at timestamptz NOT NULL,
        PRIMARY KEY (consumer, event_id)
      )`);
    await runner.query(`
      CREATE TABLE dataset (
        tenant_id text NOT NULL,
        dataset_id text NOT NULL,
        task_id text NOT NULL,
        version integer NOT NULL CHECK (version > 0),
        request_id text NOT NULL,
        request_digest text NOT NULL,
        body jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, dataset_id),
        CONSTRAINT dataset_request_key UNIQUE (tenant_id, request_id),
        CONSTRAINT dataset_version_key UNIQUE (tenant_id, task_id, version)
      )`);
    await runner.query(`
      CREATE TABLE model_version (
        tenant_id text NOT NULL,
        model_version_id text NOT NULL,
        task_id text NOT NULL,
        run_id text NOT NULL,
        dataset_id text NOT NULL,
        version integer NOT NULL CHECK (version > 0),
        base_model text NOT NULL,
        adapter jsonb NOT NULL,
        serving_name text NOT NULL,
        stage text NOT NULL
          CHECK (stage IN ('registered', 'shadow', 'canary', 'production', 'retired')),
        traffic_percent integer NOT NULL CHECK (traffic_percent BETWEEN 0 AND 100),
        metrics jsonb NOT NULL,
        description text NOT NULL,
        labels jsonb NOT NULL,
        request_id text NOT NULL,
        request_digest text NOT NULL,
        row_version integer NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, model_version_id),
        CONSTRAINT model_version_request_key UNIQUE (tenant_id, request_id),
        CONSTRAINT model_version_version_key UNIQUE (tenant_id, task_id, version),
        CONSTRAINT model_version_serving_name_key UNIQUE (serving_name)
      )`);
    await runner.query(`
      CREATE TABLE route (
        tenant_id text NOT NULL,
        route_id text NOT NULL,
        task_id text NOT NULL,
        model_version_id text NOT NULL,
        endpoint text NOT NULL,
        serving_name text NOT NULL,
        stage text NOT NULL CHECK (stage IN ('shadow', 'canary', 'production')),
        traffic_percent integer NOT NULL CHECK (traffic_percent BETWEEN 0 AND 100),
        min_confidence double precision NOT NULL,
        fallback jsonb NOT NULL,
        row_version integer NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, route_id),
        CONSTRAINT route_stage_key UNIQUE (tenant_id, task_id, stage),
        CONSTRAINT route_model_version_key UNIQUE (tenant_id, model_version_id),
        CONSTRAINT route_model_version_fk FOREIGN KEY (tenant_id, model_version_id)
          REFERENCES model_version (tenant_id, model_version_id)
      )`);
    // One row whose lock serialises routing changes: revisions are then assigned in commit
    // order with no gaps, so a watcher that read revision N has seen everything before it.
    await runner.query(`
      CREATE TABLE routing_head (
        id smallint PRIMARY KEY CHECK (id = 1),
        revision bigint NOT NULL
      )`);
    await runner.query('INSERT INTO routing_head (id, revision) VALUES (1, 0)');
    await runner.query(`
      CREATE TABLE routing_change (
        revision bigint PRIMARY KEY,
        tenant_id text NOT NULL,
        routes jsonb NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await runner.query(
      'CREATE INDEX routing_change_tenant_idx ON routing_change (tenant_id, revision)',
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of [
      'routing_change',
      'routing_head',
      'route',
      'model_version',
      'dataset',
      'processed_event',
      'training_run',
      'task',
    ]) {
      await runner.query(`DROP TABLE ${table}`);
    }
  }
}

export const migrations = [
  CreateRegistry1767225600000,
  OutboxAndAudit1767312000000,
  Records1767398400000,
  GuardedPromotion1767484800000,
  RoutingRetention1767571200000,
];
