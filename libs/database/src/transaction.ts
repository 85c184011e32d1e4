import { setTimeout as sleep } from 'node:timers/promises';
import { metrics } from '@opentelemetry/api';
import type { DataSource, EntityManager } from 'typeorm';
import { mapDatabaseError, SqlState, sqlStateOf } from './errors.js';

/** The isolation levels PostgreSQL implements (it runs READ UNCOMMITTED as READ COMMITTED). */
export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

export interface TransactionOptions {
  /** Default READ COMMITTED, PostgreSQL's own default. */
  readonly isolation?: IsolationLevel;
  /** How many more times to run `fn` after a serialization failure or deadlock. Default 3. */
  readonly retries?: number;
}

/** Aborted only because of a concurrent transaction: running it again can succeed. */
const conflictStates = new Set<string>([SqlState.SerializationFailure, SqlState.DeadlockDetected]);

/** Full jitter, so that the transactions that collided do not collide again in lockstep. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(1_000, 20 * 2 ** attempt);
}

/**
 * Runs `fn` in one transaction and commits it. When PostgreSQL aborts it for a serialization
 * failure or a deadlock, the whole of `fn` runs again in a new transaction, up to `retries` times,
 * so `fn` must do its work through `manager` and have no other side effects. Every failure leaves
 * as an UnderstudyError (see mapDatabaseError); a conflict that outlasts the retries is a
 * retryable Aborted.
 */
export async function withTransaction<T>(
  dataSource: DataSource,
  fn: (manager: EntityManager) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const isolation = options.isolation ?? 'READ COMMITTED';
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await dataSource.transaction(isolation, fn);
    } catch (error) {
      const sqlState = sqlStateOf(error);
      if (attempt >= retries || sqlState === undefined || !conflictStates.has(sqlState)) {
        throw mapDatabaseError(error);
      }
      // Looked up per retry: a meter taken before the telemetry SDK starts would stay a no-op.
      metrics
        .getMeter('understudy.database')
        .createCounter('understudy.database.transaction.retries', {
          description: 'Transactions run again after a serialization failure or deadlock',
        })
        .add(1, { 'db.response.status_code': sqlState, 'db.transaction.isolation': isolation });
      await sleep(backoffMs(attempt));
    }
  }
}
