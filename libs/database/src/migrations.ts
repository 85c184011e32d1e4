import { createHash } from 'node:crypto';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { MigrationExecutor, type DataSource, type Migration, type QueryRunner } from 'typeorm';
import { migrationsTableName } from './data-source.js';
import { mapDatabaseError } from './errors.js';

export interface MigrationRecord {
  /** The migration class name, ending in its timestamp. */
  readonly name: string;
  readonly timestamp: number;
}

function recordOf(migration: Migration): MigrationRecord {
  return { name: migration.name, timestamp: migration.timestamp };
}

function schemaOf(dataSource: DataSource): string {
  return dataSource.driver.schema ?? 'public';
}

/** A 64-bit advisory lock key per schema: services sharing a database do not wait on each other. */
function lockKeyOf(dataSource: DataSource): string {
  const digest = createHash('sha256').update(
    `understudy:${schemaOf(dataSource)}:${migrationsTableName}`,
  );
  return digest.digest().readBigInt64BE(0).toString();
}

/**
 * Runs `fn` on one connection holding a session-level advisory lock, so that replicas booting
 * together migrate one after the other; the later ones then find nothing pending.
 */
async function withMigrationLock<T>(
  dataSource: DataSource,
  fn: (runner: QueryRunner) => Promise<T>,
): Promise<T> {
  const key = lockKeyOf(dataSource);
  const runner = dataSource.createQueryRunner('master');
  try {
    const [attempt] = (await runner.query('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
      key,
    ])) as { locked: boolean }[];
    if (attempt?.locked !== true) {
      dataSource.logger.log('info', 'another process is migrating this schema; waiting for it');
      await runner.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    }
    try {
      return await fn(runner);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    }
  } catch (error) {
    throw mapDatabaseError(error);
  } finally {
    await runner.release();
  }
}

function executorOn(dataSource: DataSource, runner?: QueryRunner): MigrationExecutor {
  const executor = new MigrationExecutor(dataSource, runner);
  // One transaction per migration: a failure keeps the ones before it, and a migration that
  // cannot run in a transaction (CREATE INDEX CONCURRENTLY) may opt out with `transaction = false`.
  executor.transaction = 'each';
  return executor;
}

/** The migrations table lives in the schema, so the schema must exist before any migration. */
async function ensureSchema(runner: QueryRunner, schema: string): Promise<void> {
  const found = (await runner.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
    schema,
  ])) as unknown[];
  if (found.length === 0) await runner.query(`CREATE SCHEMA "${schema}"`);
}

/**
 * Applies the pending migrations in timestamp order, each in its own transaction, under an
 * advisory lock. Returns those it applied; empty when another replica got there first.
 */
export async function migrate(dataSource: DataSource): Promise<MigrationRecord[]> {
  return withMigrationLock(dataSource, async (runner) => {
    await ensureSchema(runner, schemaOf(dataSource));
    const applied = await executorOn(dataSource, runner).executePendingMigrations();
    return applied.map(recordOf);
  });
}

export interface RevertOptions {
  /** How many of the most recently applied migrations to undo. Default 1. */
  readonly steps?: number;
}

/** Undoes the last `steps` applied migrations, newest first, under the same lock as migrate(). */
export async function revert(
  dataSource: DataSource,
  options: RevertOptions = {},
): Promise<MigrationRecord[]> {
  const steps = options.steps ?? 1;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'steps must be a positive integer', {
      details: { steps },
    });
  }
  return withMigrationLock(dataSource, async (runner) => {
    const executor = executorOn(dataSource, runner);
    const reverted: MigrationRecord[] = [];
    for (let step = 0; step < steps; step += 1) {
      // Newest first: TypeORM lists applied migrations by descending id.
      const [last] = await executor.getExecutedMigrations();
      if (last === undefined) break;
      await executor.undoLastMigration();
      reverted.push(recordOf(last));
    }
    return reverted;
  });
}

/** The known migrations not yet applied, in the order migrate() would apply them. */
export async function pendingMigrations(dataSource: DataSource): Promise<MigrationRecord[]> {
  try {
    return (await executorOn(dataSource).getPendingMigrations()).map(recordOf);
  } catch (error) {
    throw mapDatabaseError(error);
  }
}
