import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Retention of routing changes: pruning looks up the newest change older than the retention
 * period, and snapshots date the table by the latest change, both by created_at.
 */
export class RoutingRetention1767571200000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE INDEX routing_change_created_at_idx ON routing_change (created_at)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX routing_change_created_at_idx');
  }
}
