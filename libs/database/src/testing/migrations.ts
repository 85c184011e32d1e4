import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A table with a unique index and a check constraint; sleeps so concurrent migrate() overlap. */
export class CreateModels1700000000000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query('SELECT pg_sleep(0.3)');
    await runner.query(`
      CREATE TABLE model (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        version integer NOT NULL CONSTRAINT model_version_positive CHECK (version > 0)
      )`);
    await runner.query('CREATE UNIQUE INDEX model_name_version_idx ON model (name, version)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE model');
  }
}

/** A second table referencing the first, with an index on the foreign key. */
export class CreateDeployments1700000000001 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE deployment (
        id bigserial PRIMARY KEY,
        model_id uuid NOT NULL CONSTRAINT deployment_model_fk REFERENCES model (id),
        weight integer NOT NULL
      )`);
    await runner.query('CREATE INDEX deployment_model_idx ON deployment (model_id)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE deployment');
  }
}

export const testMigrations = [CreateModels1700000000000, CreateDeployments1700000000001];
