import { describe, expect, it } from 'vitest';
import { uniqueName } from './names.js';

describe('uniqueName', () => {
  it('is a valid bucket, topic and database name, different each time', () => {
    const names = new Set(Array.from({ length: 100 }, () => uniqueName('orders')));
    expect(names.size).toBe(100);
    for (const name of names) expect(name).toMatch(/^orders-[0-9a-f]{8}$/);
  });
});
