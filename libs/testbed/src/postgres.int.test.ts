import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import type { PostgresEndpoint } from './endpoints.js';
import { uniqueName } from './names.js';
import { createDatabase } from './postgres.js';

async function query(endpoint: PostgresEndpoint, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client(endpoint);
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL', () => {
  it('creates an isolated database per test file, with real SQL', async () => {
    const shared = inject('testbed').postgres;
    const endpoint = await createDatabase(shared, uniqueName('testbed'));
    expect(endpoint).toEqual({ ...shared, database: endpoint.database });
    await query(endpoint, 'CREATE TABLE t (id serial PRIMARY KEY, name text NOT NULL)');
    await query(endpoint, "INSERT INTO t (name) VALUES ('a'), ('b')");
    expect(await query(endpoint, 'SELECT name FROM t ORDER BY id')).toEqual([
      { name: 'a' },
      { name: 'b' },
    ]);
    expect(await query(shared, "SELECT to_regclass('public.t') AS t")).toEqual([{ t: null }]);
  });

  it('listens on loopback only, as a non-root user, with password authentication', async () => {
    const endpoint = inject('testbed').postgres;
    expect(await query(endpoint, 'SHOW listen_addresses')).toEqual([
      { listen_addresses: '127.0.0.1' },
    ]);
    const [row] = await query(endpoint, 'SELECT version() AS version');
    expect(row?.['version']).toMatch(/^PostgreSQL 18\./);
    await expect(query({ ...endpoint, password: 'wrong' }, 'SELECT 1')).rejects.toMatchObject({
      code: '28P01',
    });
  });
});
