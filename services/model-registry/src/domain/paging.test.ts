import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { digestOf, nextPageToken, offsetOf, pageSizeOf, parseOrderBy } from './paging.js';

describe('paging', () => {
  it('defaults and caps the page size', () => {
    expect([pageSizeOf(0), pageSizeOf(7), pageSizeOf(10_000)]).toEqual([50, 7, 500]);
    expect(() => pageSizeOf(-1)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
  });

  it('issues a next token only when more rows exist, bound to the filters', () => {
    const filters = { tenantId: 't', taskId: 'a' };
    expect(nextPageToken(0, 2, 2, filters)).toBe('');
    const token = nextPageToken(4, 2, 3, filters);
    expect(offsetOf(token, { taskId: 'a', tenantId: 't' })).toBe(6);
    expect(offsetOf('', filters)).toBe(0);
    expect(() => offsetOf(token, { ...filters, taskId: 'b' })).toThrow(/other filters/);
    expect(() => offsetOf('not a token', filters)).toThrow(/malformed/);
  });

  it('parses order_by against the accepted fields', () => {
    const accepted = { created_at: 'createdAt', version: 'version' };
    expect(parseOrderBy('', accepted, 'created_at desc')).toEqual([
      { column: 'createdAt', descending: true },
    ]);
    expect(parseOrderBy(' version , created_at desc', accepted, 'x')).toEqual([
      { column: 'version', descending: false },
      { column: 'createdAt', descending: true },
    ]);
    for (const bad of ['name', 'version sideways', 'version desc now', 'toString']) {
      expect(() => parseOrderBy(bad, accepted, 'version')).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument }),
      );
    }
  });

  it('digests values independently of key order', () => {
    expect(digestOf({ a: 1, b: { c: 2n, d: [1, 2] } })).toBe(
      digestOf({ b: { d: [1, 2], c: 2n }, a: 1 }),
    );
    expect(digestOf({ a: 1 })).not.toBe(digestOf({ a: 2 }));
  });
});
