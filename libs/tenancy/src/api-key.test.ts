import { describe, expect, it } from 'vitest';
import { apiKeyOf } from './api-key.js';

describe('apiKeyOf', () => {
  it('reads a bearer token or the understudy header', () => {
    expect(apiKeyOf({ authorization: 'Bearer k-1' })).toBe('k-1');
    expect(apiKeyOf({ authorization: 'bearer k-1 ' })).toBe('k-1');
    expect(apiKeyOf({ 'x-understudy-key': 'k-2' })).toBe('k-2');
    expect(apiKeyOf({ authorization: 'Bearer k-1', 'x-understudy-key': 'k-2' })).toBe('k-1');
  });

  it('finds nothing in other schemes or empty values', () => {
    expect(apiKeyOf({})).toBeUndefined();
    expect(apiKeyOf({ authorization: 'Basic dXNlcjpwYXNz' })).toBeUndefined();
    expect(apiKeyOf({ authorization: 'Bearer ' })).toBeUndefined();
    expect(apiKeyOf({ 'x-understudy-key': '' })).toBeUndefined();
  });
});
