import { createHash } from 'node:crypto';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

/*
 * Keyset paging for every List RPC. A page token carries the sort values of the last row
 * returned (its id last), so the next page starts strictly after that row whatever was inserted
 * or deleted meanwhile: no repeats, no skips, and no deep OFFSET scans. Tokens are bound to the
 * request's filters and order; one reused with others is INVALID_ARGUMENT.
 */

const defaultPageSize = 50;
const maxPageSize = 500;

/** page_size 0 means 50, more than 500 means 500 (registry_service.proto conventions). */
export function pageSizeOf(requested: number): number {
  if (requested < 0) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'page_size must not be negative');
  }
  return requested === 0 ? defaultPageSize : Math.min(requested, maxPageSize);
}

/**
 * How a sort value travels in a token and is checked when it comes back. Values go back to the
 * database as untyped parameters, which PostgreSQL reads as the type of the column compared.
 */
export type SortKind = 'timestamp' | 'number' | 'integer' | 'text';

/** A sort value as a token holds it: timestamps as ISO 8601, bigints as decimal strings. */
export type SortValue = string | number;

/** A column lists may sort on. */
export interface SortField<Row> {
  /** The column as the query names it, e.g. `d.createdAt`. */
  readonly column: string;
  readonly kind: SortKind;
  /**
   * The row's value. Timestamps must have millisecond precision in the database (what a Date
   * holds), or the row after a token could compare equal to the one before it.
   */
  readonly value: (row: Row) => Date | number | string;
}

/** What a List accepts in `order_by`, and how it breaks ties. */
export interface ListOrder<Row> {
  /** The accepted order_by fields, by their API name. */
  readonly fields: Readonly<Record<string, SortField<Row>>>;
  /** The order when order_by is empty, e.g. `created_at desc`. */
  readonly fallback: string;
  /** Unique among the rows listed; sorts last, in the direction of the last order_by term. */
  readonly id: SortField<Row>;
}

export interface SortKey<Row> extends SortField<Row> {
  readonly descending: boolean;
}

export interface PageRequest {
  readonly pageSize: number;
  readonly pageToken: string;
  readonly orderBy: string;
}

/** One page's query: its sort keys (the id last), its size, and where it starts. */
export interface PagePlan<Row> {
  readonly keys: readonly SortKey<Row>[];
  readonly size: number;
  /** The previous page's last row's sort values; undefined on the first page. */
  readonly after: readonly SortValue[] | undefined;
  /** Of the filters and order the token is bound to. */
  readonly digest: string;
}

/** A SQL condition with named parameters (`:name`). */
export interface Condition {
  readonly sql: string;
  readonly parameters: Readonly<Record<string, SortValue>>;
}

/**
 * Parses `order_by` ("created_at desc, version") against the accepted fields; empty uses
 * `fallback`.
 */
export function parseOrderBy<Field>(
  orderBy: string,
  accepted: Readonly<Record<string, Field>>,
  fallback: string,
): (Field & { readonly descending: boolean })[] {
  const text = orderBy.trim() === '' ? fallback : orderBy;
  const invalid = (why: string) =>
    new UnderstudyError(
      ErrorCode.InvalidArgument,
      `order_by "${orderBy}" is invalid: ${why}; use ${Object.keys(accepted).join(', ')}, each optionally followed by " desc"`,
    );
  const seen = new Set<string>();
  return text.split(',').map((term) => {
    const [name = '', direction, ...rest] = term.trim().split(/\s+/);
    const field = Object.hasOwn(accepted, name) ? accepted[name] : undefined;
    if (
      field === undefined ||
      rest.length > 0 ||
      (direction !== undefined && direction !== 'desc' && direction !== 'asc')
    ) {
      throw invalid(`"${term.trim()}" is not a field and direction`);
    }
    if (seen.has(name)) throw invalid(`${name} appears twice`);
    seen.add(name);
    return { ...field, descending: direction === 'desc' };
  });
}

/** Reads the request's order, size and token, which must have been issued for `filters`. */
export function planPage<Row>(
  order: ListOrder<Row>,
  request: PageRequest,
  filters: object,
): PagePlan<Row> {
  const terms = parseOrderBy(request.orderBy, order.fields, order.fallback);
  const descending = terms.at(-1)?.descending ?? false;
  const keys = [...terms, { ...order.id, descending }];
  const size = pageSizeOf(request.pageSize);
  const digest = digestOf({ filters, orderBy: request.orderBy });
  const after = request.pageToken === '' ? undefined : decode(request.pageToken, keys, digest);
  return { keys, size, after, digest };
}

/**
 * The condition "sorts after the token's row", as row-value comparisons: one per run of keys
 * with the same direction, e.g. `created_at desc, version` after (t, v, id) is
 * `created_at < :t OR (created_at = :t AND (version, id) > (:v, :id))`. A run's comparison
 * matches the order of an index on its columns, so PostgreSQL can start the scan at the token.
 */
export function afterCondition<Row>(plan: PagePlan<Row>, prefix = 'keyset'): Condition | undefined {
  const { after } = plan;
  if (after === undefined) return undefined;
  const runs: { columns: string[]; parameters: string[]; descending: boolean }[] = [];
  plan.keys.forEach((key, index) => {
    const last = runs.at(-1);
    const run =
      last?.descending === key.descending
        ? last
        : { columns: [], parameters: [], descending: key.descending };
    if (run !== last) runs.push(run);
    run.columns.push(key.column);
    run.parameters.push(`:${prefix}${String(index)}`);
  });
  const tuple = (items: readonly string[]) =>
    items.length === 1 ? (items[0] ?? '') : `(${items.join(', ')})`;
  const sql = runs.reduceRight<string | undefined>((rest, run) => {
    const beyond = `${tuple(run.columns)} ${run.descending ? '<' : '>'} ${tuple(run.parameters)}`;
    return rest === undefined
      ? beyond
      : `${beyond} OR (${tuple(run.columns)} = ${tuple(run.parameters)} AND (${rest}))`;
  }, undefined);
  const parameters = Object.fromEntries(
    after.map((value, index) => [`${prefix}${String(index)}`, value]),
  );
  return { sql: `(${sql ?? 'TRUE'})`, parameters };
}

/**
 * The page out of the rows fetched for it (fetch one more than its size to know whether another
 * follows) and the token of the next page, empty on the last.
 */
export function finishPage<Row>(
  plan: PagePlan<Row>,
  fetched: readonly Row[],
): { rows: Row[]; nextPageToken: string } {
  const rows = fetched.slice(0, plan.size);
  const last = rows.at(-1);
  if (fetched.length <= plan.size || last === undefined) return { rows, nextPageToken: '' };
  const values = plan.keys.map((key) => tokenValue(key.value(last)));
  return {
    rows,
    nextPageToken: Buffer.from(JSON.stringify({ k: values, f: plan.digest })).toString('base64url'),
  };
}

function tokenValue(value: Date | number | string): SortValue {
  if (value instanceof Date) return value.toISOString();
  // JSON has no NaN or infinities; PostgreSQL reads these spellings as float8.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

const nonFinite = new Set(['NaN', 'Infinity', '-Infinity']);

const validValue: Record<SortKind, (value: unknown) => boolean> = {
  timestamp: (value) => typeof value === 'string' && !Number.isNaN(Date.parse(value)),
  number: (value) =>
    (typeof value === 'number' && Number.isFinite(value)) ||
    (typeof value === 'string' && nonFinite.has(value)),
  integer: (value) => typeof value === 'string' && /^-?\d{1,19}$/.test(value),
  text: (value) => typeof value === 'string',
};

function decode<Row>(
  token: string,
  keys: readonly SortKey<Row>[],
  digest: string,
): readonly SortValue[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !('k' in parsed) ||
    !('f' in parsed) ||
    !Array.isArray(parsed.k)
  ) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'page_token is malformed');
  }
  if (parsed.f !== digest) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'page_token was issued for other filters or another order; repeat the first request',
    );
  }
  const values: unknown[] = parsed.k;
  if (
    values.length !== keys.length ||
    !keys.every((key, index) => validValue[key.kind](values[index]))
  ) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'page_token is malformed');
  }
  return values as SortValue[];
}

/** SHA-256 of a value's canonical JSON (object keys sorted), e.g. to compare repeated requests. */
export function digestOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint'
      ? item.toString()
      : typeof item === 'object' && item !== null && !Array.isArray(item)
        ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : item,
  );
}
