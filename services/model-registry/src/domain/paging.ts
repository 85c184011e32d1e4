import { createHash } from 'node:crypto';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

const defaultPageSize = 50;
const maxPageSize = 500;

/** page_size 0 means 50, more than 500 means 500 (registry_service.proto conventions). */
export function pageSizeOf(requested: number): number {
  if (requested < 0) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'page_size must not be negative');
  }
  return requested === 0 ? defaultPageSize : Math.min(requested, maxPageSize);
}

export interface OrderTerm {
  /** The column, as mapped from the accepted field name. */
  readonly column: string;
  readonly descending: boolean;
}

/**
 * Parses `order_by` ("created_at desc, version") against the accepted fields, mapped to their
 * columns; empty uses `fallback`.
 */
export function parseOrderBy(
  orderBy: string,
  accepted: Readonly<Record<string, string>>,
  fallback: string,
): OrderTerm[] {
  const text = orderBy.trim() === '' ? fallback : orderBy;
  return text.split(',').map((term) => {
    const [field = '', direction, ...rest] = term.trim().split(/\s+/);
    const column = Object.hasOwn(accepted, field) ? accepted[field] : undefined;
    if (
      column === undefined ||
      rest.length > 0 ||
      (direction !== undefined && direction !== 'desc' && direction !== 'asc')
    ) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `order_by "${orderBy}" is invalid: use ${Object.keys(accepted).join(', ')}, each optionally followed by " desc"`,
      );
    }
    return { column, descending: direction === 'desc' };
  });
}

/**
 * Page tokens carry the offset of the next page and a digest of the filters they were issued
 * for, so that a token reused with other filters is rejected instead of paging wrongly.
 */
export function pageToken(offset: number, filters: unknown): string {
  return Buffer.from(JSON.stringify({ o: offset, f: digestOf(filters) })).toString('base64url');
}

export function offsetOf(token: string, filters: unknown): number {
  if (token === '') return 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !('o' in parsed) ||
    !('f' in parsed) ||
    typeof parsed.o !== 'number' ||
    !Number.isSafeInteger(parsed.o) ||
    parsed.o < 0
  ) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'page_token is malformed');
  }
  if (parsed.f !== digestOf(filters)) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'page_token was issued for other filters; repeat the first request',
    );
  }
  return parsed.o;
}

/** The next page's token, empty on the last page (fetch one row more than the page to know). */
export function nextPageToken(
  offset: number,
  pageSize: number,
  fetched: number,
  filters: unknown,
): string {
  return fetched > pageSize ? pageToken(offset + pageSize, filters) : '';
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
