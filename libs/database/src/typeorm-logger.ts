import type { Logger } from '@understudy/telemetry';
import type { Logger as TypeOrmLogger } from 'typeorm';
import { sqlStateOf } from './errors.js';

/** Long statements (bulk inserts) are cut so one query cannot flood the log pipeline. */
const maxQueryLength = 2_000;

function shorten(query: string): string {
  return query.length <= maxQueryLength ? query : `${query.slice(0, maxQueryLength)}…`;
}

/**
 * Routes TypeORM's log calls to our Logger. Query parameters are dropped everywhere: they hold
 * prompts, completions and other tenant content. Failed queries go to debug, because the error
 * travels on to the caller, who decides whether it matters (a unique violation is often expected).
 */
export class TypeOrmLoggerAdapter implements TypeOrmLogger {
  constructor(private readonly logger: Logger) {}

  logQuery(query: string): void {
    this.logger.debug({ query: shorten(query) }, 'query');
  }

  logQueryError(error: string | Error, query: string): void {
    const sqlState = sqlStateOf(error);
    const fields: Record<string, string> = { query: shorten(query) };
    if (sqlState !== undefined) fields['sqlState'] = sqlState;
    // Data exceptions (class 22) quote the offending input value in their message.
    if (sqlState?.startsWith('22') !== true) {
      fields['error'] = typeof error === 'string' ? error : error.message;
    }
    this.logger.debug(fields, 'query failed');
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn({ query: shorten(query), durationMs: time }, 'slow query');
  }

  logSchemaBuild(message: string): void {
    this.logger.info({}, message);
  }

  logMigration(message: string): void {
    this.logger.info({}, message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    const text = String(message);
    switch (level) {
      case 'warn':
        this.logger.warn({}, text);
        return;
      case 'info':
        this.logger.info({}, text);
        return;
      case 'log':
        this.logger.debug({}, text);
        return;
    }
  }
}
