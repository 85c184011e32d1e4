import { DatabaseSync } from 'node:sqlite';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import {
  afterCondition,
  digestOf,
  finishPage,
  pageSizeOf,
  parseOrderBy,
  planPage,
  type ListOrder,
  type PageRequest,
} from './paging.js';

interface Row {
  readonly id: string;
  readonly score: number;
  readonly team: string;
  readonly seen: string;
}

const order: ListOrder<Row> = {
  fields: {
    score: { column: 'score', kind: 'number', value: (row) => row.score },
    team: { column: 'team', kind: 'text', value: (row) => row.team },
    seen: { column: 'seen', kind: 'timestamp', value: (row) => new Date(row.seen) },
  },
  fallback: 'score desc',
  id: { column: 'id', kind: 'text', value: (row) => row.id },
};

/**
 * The conditions run on SQLite (row values since 3.15), which compares like PostgreSQL for
 * these types, so the paging is checked against a real query engine with ties everywhere.
 */
function table(rows: readonly Row[]) {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE item (id TEXT PRIMARY KEY, score REAL, team TEXT, seen TEXT)');
  const insert = db.prepare('INSERT INTO item VALUES (:id, :score, :team, :seen)');
  const add = (row: Row) => insert.run({ ...row });
  rows.forEach(add);
  const page = (request: PageRequest, filters: object = {}) => {
    const plan = planPage(order, request, filters);
    const after = afterCondition(plan);
    const sorted = plan.keys
      .map((key) => `${key.column} ${key.descending ? 'DESC' : 'ASC'}`)
      .join(', ');
    const fetched = db
      .prepare(
        `SELECT * FROM item WHERE ${after?.sql ?? 'TRUE'} ORDER BY ${sorted} LIMIT ${String(plan.size + 1)}`,
      )
      .all(after?.parameters ?? {}) as unknown as Row[];
    return finishPage(plan, fetched);
  };
  return { add, page };
}

const rows: Row[] = Array.from({ length: 23 }, (_, index) => ({
  id: `id-${String(index).padStart(2, '0')}`,
  score: index % 3,
  team: ['red', 'blue'][index % 2] ?? '',
  seen: new Date(Date.UTC(2026, 0, 1 + (index % 4))).toISOString(),
}));

function compare(a: Row, b: Row, terms: readonly (readonly [keyof Row, boolean])[]): number {
  for (const [field, descending] of terms) {
    const x = a[field];
    const y = b[field];
    if (x !== y) return (x < y ? -1 : 1) * (descending ? -1 : 1);
  }
  return 0;
}

function readAll(page: ReturnType<typeof table>['page'], orderBy: string, pageSize: number) {
  const seen: string[] = [];
  let pageToken = '';
  for (let pages = 0; pages < 100; pages += 1) {
    const result = page({ orderBy, pageSize, pageToken });
    seen.push(...result.rows.map((row) => row.id));
    if (result.nextPageToken === '') return seen;
    pageToken = result.nextPageToken;
  }
  throw new Error('paging did not end');
}

describe('keyset paging', () => {
  it('defaults and caps the page size', () => {
    expect([pageSizeOf(0), pageSizeOf(7), pageSizeOf(10_000)]).toEqual([50, 7, 500]);
    expect(() => pageSizeOf(-1)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
  });

  it('parses order_by against the accepted fields', () => {
    const accepted = { created_at: { c: 'createdAt' }, version: { c: 'version' } };
    expect(parseOrderBy('', accepted, 'created_at desc')).toEqual([
      { c: 'createdAt', descending: true },
    ]);
    expect(parseOrderBy(' version , created_at desc', accepted, 'x')).toEqual([
      { c: 'version', descending: false },
      { c: 'createdAt', descending: true },
    ]);
    for (const bad of [
      'name',
      'version sideways',
      'version desc now',
      'toString',
      'version, version desc',
    ]) {
      expect(() => parseOrderBy(bad, accepted, 'version')).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument }),
      );
    }
  });

  it.each([
    ['score desc', [['score', true]]],
    ['score', [['score', false]]],
    [
      'score desc, team',
      [
        ['score', true],
        ['team', false],
      ],
    ],
    [
      'team, score desc',
      [
        ['team', false],
        ['score', true],
      ],
    ],
    [
      'seen desc, team desc, score',
      [
        ['seen', true],
        ['team', true],
        ['score', false],
      ],
    ],
  ] as const)('pages through ties in every direction: %s', (orderBy, terms) => {
    const { page } = table(rows);
    const descending = terms.at(-1)?.[1] ?? false;
    const expected = [...rows]
      .sort((a, b) => compare(a, b, [...terms, ['id', descending]]))
      .map((row) => row.id);
    for (const pageSize of [1, 2, 5, 23, 50]) {
      expect(readAll(page, orderBy, pageSize)).toEqual(expected);
    }
  });

  it('neither repeats nor skips rows inserted between pages', () => {
    const { add, page } = table(rows);
    const first = page({ orderBy: 'score desc, team', pageSize: 10, pageToken: '' });
    const cursor = first.rows.at(-1);
    if (cursor === undefined) throw new Error('empty page');
    // One row sorting before the cursor (already passed), one tied with it but after its id.
    add({ ...cursor, id: 'id-00-early', score: 2 });
    add({ ...cursor, id: `${cursor.id}-late` });
    const rest = readAll(
      (request) => page({ ...request, pageToken: request.pageToken || first.nextPageToken }),
      'score desc, team',
      4,
    );
    const ids = [...first.rows.map((row) => row.id), ...rest];
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(`${cursor.id}-late`);
    expect(ids).not.toContain('id-00-early');
    expect(ids.filter((id) => rows.some((row) => row.id === id))).toHaveLength(rows.length);
  });

  it('refuses tokens that are malformed, forged or issued for another request', () => {
    const { page } = table(rows);
    const filters = { tenantId: 't', taskId: 'a' };
    const { nextPageToken } = page({ orderBy: 'seen', pageSize: 2, pageToken: '' }, filters);
    expect(nextPageToken).not.toBe('');
    const again = { orderBy: 'seen', pageSize: 2, pageToken: nextPageToken };
    expect(page(again, { taskId: 'a', tenantId: 't' }).rows).toHaveLength(2);
    const invalid = (request: PageRequest, message: RegExp, other = filters) => {
      expect(() => page(request, other)).toThrow(
        expect.objectContaining({
          code: ErrorCode.InvalidArgument,
          message: expect.stringMatching(message) as unknown,
        }),
      );
    };
    invalid(again, /other filters/, { ...filters, taskId: 'b' });
    invalid({ ...again, orderBy: 'seen desc' }, /another order/);
    invalid({ ...again, pageToken: 'not a token' }, /malformed/);
    const forge = (k: unknown) =>
      Buffer.from(JSON.stringify({ k, f: digestOf({ filters, orderBy: 'seen' }) })).toString(
        'base64url',
      );
    expect(
      page({ ...again, pageToken: forge(['2026-01-01T00:00:00.000Z', 'id-01']) }, filters).rows,
    ).toHaveLength(2);
    invalid({ ...again, pageToken: forge(['yesterday', 'id-01']) }, /malformed/);
    invalid({ ...again, pageToken: forge(['2026-01-01T00:00:00.000Z']) }, /malformed/);
    invalid({ ...again, pageToken: forge(['2026-01-01T00:00:00.000Z', 7]) }, /malformed/);
    // An offset token of the registry's earlier releases.
    invalid(
      { ...again, pageToken: Buffer.from('{"o":50,"f":"x"}').toString('base64url') },
      /malformed/,
    );
  });

  it('carries non-finite numbers in tokens', () => {
    const plan = planPage(order, { orderBy: 'score', pageSize: 1, pageToken: '' }, {});
    const nan = { id: 'n', score: Number.NaN, team: '', seen: '2026-01-01T00:00:00Z' };
    const { nextPageToken } = finishPage(plan, [nan, nan]);
    const next = planPage(order, { orderBy: 'score', pageSize: 1, pageToken: nextPageToken }, {});
    expect(next.after).toEqual(['NaN', 'n']);
    expect(afterCondition(next)).toEqual({
      sql: '((score, id) > (:keyset0, :keyset1))',
      parameters: { keyset0: 'NaN', keyset1: 'n' },
    });
  });

  it('digests values independently of key order', () => {
    expect(digestOf({ a: 1, b: { c: 2n, d: [1, 2] } })).toBe(
      digestOf({ b: { d: [1, 2], c: 2n }, a: 1 }),
    );
    expect(digestOf({ a: 1 })).not.toBe(digestOf({ a: 2 }));
  });
});
