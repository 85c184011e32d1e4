import { createLogger } from '@understudy/telemetry';
import { DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import { TypeOrmLoggerAdapter } from './typeorm-logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = {
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  const adapter = new TypeOrmLoggerAdapter(createLogger('test', { level: 'debug', destination }));
  return { adapter, lines };
}

function serverError(code: string, message: string): DatabaseError {
  return Object.assign(new DatabaseError(message, message.length, 'error'), {
    severity: 'ERROR',
    code,
  });
}

describe('TypeOrmLoggerAdapter', () => {
  it('logs queries at debug without their parameters', () => {
    const { adapter, lines } = capture();
    adapter.logQuery('SELECT * FROM prompts WHERE text = $1');
    adapter.logQuerySlow(1_500, 'SELECT pg_sleep($1)');
    expect(lines).toMatchObject([
      { level: 'debug', message: 'query', query: 'SELECT * FROM prompts WHERE text = $1' },
      { level: 'warn', message: 'slow query', query: 'SELECT pg_sleep($1)', durationMs: 1_500 },
    ]);
  });

  it('never writes parameters even when TypeORM hands them over', () => {
    const { adapter, lines } = capture();
    const loose = adapter as unknown as {
      logQuery(query: string, parameters: unknown[]): void;
      logQueryError(error: Error, query: string, parameters: unknown[]): void;
    };
    loose.logQuery('INSERT INTO calls (prompt) VALUES ($1)', ['my secret prompt']);
    loose.logQueryError(serverError('23505', 'duplicate key'), 'INSERT ...', ['my secret prompt']);
    expect(JSON.stringify(lines)).not.toContain('my secret prompt');
  });

  it('logs failed queries with their SQLSTATE but drops messages that quote input values', () => {
    const { adapter, lines } = capture();
    adapter.logQueryError(
      serverError('23505', 'duplicate key value violates unique constraint "k"'),
      'INSERT 1',
    );
    adapter.logQueryError(
      serverError('22P02', 'invalid input syntax for type uuid: "private"'),
      'SELECT 2',
    );
    adapter.logQueryError('connection lost', 'SELECT 3');
    expect(lines).toMatchObject([
      {
        level: 'debug',
        sqlState: '23505',
        error: 'duplicate key value violates unique constraint "k"',
      },
      { level: 'debug', sqlState: '22P02', query: 'SELECT 2' },
      { level: 'debug', error: 'connection lost', query: 'SELECT 3' },
    ]);
    expect(JSON.stringify(lines)).not.toContain('private');
  });

  it('cuts very long statements', () => {
    const { adapter, lines } = capture();
    adapter.logQuery(`INSERT INTO t VALUES ${'($1),'.repeat(5_000)}`);
    expect((lines[0]?.['query'] as string).length).toBeLessThanOrEqual(2_001);
  });

  it('maps TypeORM levels and migration messages', () => {
    const { adapter, lines } = capture();
    adapter.log('warn', 'pool raised an error');
    adapter.log('info', 'info line');
    adapter.log('log', 'chatter');
    adapter.logMigration('Migration A1700000000000 has been executed successfully.');
    adapter.logSchemaBuild('No migrations are pending');
    expect(lines.map((l) => [l['level'], l['message']])).toEqual([
      ['warn', 'pool raised an error'],
      ['info', 'info line'],
      ['debug', 'chatter'],
      ['info', 'Migration A1700000000000 has been executed successfully.'],
      ['info', 'No migrations are pending'],
    ]);
  });
});
