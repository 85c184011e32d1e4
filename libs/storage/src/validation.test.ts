import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { validateKey, validateMetadata, validatePrefix, validatePutOptions } from './validation.js';

/** The code `check(value)` fails with, or undefined when it passes. */
function codeOf<T>(check: (value: T) => void, value: T): string | undefined {
  try {
    check(value);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(UnderstudyError);
    return (error as UnderstudyError).code;
  }
}

describe('validateKey', () => {
  it.each([
    'datasets/acme/2026-01-01.jsonl',
    'a',
    '007',
    '...',
    '.hidden/x',
    'spaces are fine/and+plus%',
    'ünïcødé/日本語/😀',
    `${'k'.repeat(250)}/${'k'.repeat(250)}`,
  ])('accepts %j', (key) => {
    expect(codeOf(validateKey, key)).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['leading slash', '/a'],
    ['trailing slash', 'a/'],
    ['empty segment', 'a//b'],
    ['dot segment', 'a/./b'],
    ['dot-dot segment', '../etc/passwd'],
    ['dot-dot in the middle', 'a/../b'],
    ['control character', 'a\tb'],
    ['DEL', 'a\u007fb'],
    ['lone surrogate', 'a\udc00'],
    ['over 1024 bytes', 'é'.repeat(513)],
    ['segment over 250 bytes', `a/${'k'.repeat(251)}`],
  ])('rejects a key with %s', (_, key) => {
    expect(codeOf(validateKey, key)).toBe(ErrorCode.InvalidArgument);
  });

  it('names the key in the error details', () => {
    expect(() => {
      validateKey('a//b');
    }).toThrow(expect.objectContaining({ details: { key: 'a//b' } }));
  });
});

describe('validatePrefix', () => {
  it('accepts empty, partial and directory prefixes', () => {
    for (const prefix of ['', 'a', 'a/', 'a/b', 'a/b/']) {
      expect(codeOf(validatePrefix, prefix), prefix).toBeUndefined();
    }
  });

  it('rejects what no key could start with', () => {
    for (const prefix of ['/', '/a', 'a//', '../']) {
      expect(codeOf(validatePrefix, prefix), prefix).toBe(ErrorCode.InvalidArgument);
    }
  });
});

describe('validateMetadata', () => {
  it('accepts lowercase keys and any text', () => {
    expect(codeOf(validateMetadata, { 'run-id': 'r 1', tenant: 'Zoë ✓', a1: '' })).toBeUndefined();
  });

  it.each([['Upper'], ['under_score'], ['-lead'], ['trail-'], ['k'.repeat(65)], ['']])(
    'rejects the key %j',
    (key) => {
      expect(codeOf(validateMetadata, { [key]: 'x' })).toBe(ErrorCode.InvalidArgument);
    },
  );

  it('limits the stored size, counting encoded values', () => {
    expect(codeOf(validateMetadata, { a: 'x'.repeat(2000) })).toBeUndefined();
    // 700 characters that each take 9 bytes percent-encoded.
    expect(codeOf(validateMetadata, { a: '日'.repeat(700) })).toBe(ErrorCode.InvalidArgument);
  });
});

describe('validatePutOptions', () => {
  it('rejects content types that could break a header', () => {
    expect(
      codeOf(validatePutOptions, { contentType: 'text/plain; charset=utf-8' }),
    ).toBeUndefined();
    for (const contentType of ['', ' text/plain', 'text/plain\r\nx: y', 'tëxt/plain']) {
      expect(codeOf(validatePutOptions, { contentType }), contentType).toBe(
        ErrorCode.InvalidArgument,
      );
    }
  });
});
