import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { bytesOf, chunksOf, Digest } from './bytes.js';

async function all(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of source) out.push(chunk);
  return out;
}

describe('chunksOf', () => {
  it('regroups a stream into full chunks and a short last one', async () => {
    const data = randomBytes(25);
    const source = Readable.from([data.subarray(0, 3), data.subarray(3, 4), data.subarray(4)]);
    const chunks = await all(chunksOf(bytesOf(source), 10));
    expect(chunks.map((chunk) => chunk.length)).toEqual([10, 10, 5]);
    expect(Buffer.concat(chunks)).toEqual(data);
  });

  it('yields nothing for an empty body and exact multiples without a tail', async () => {
    expect(await all(chunksOf(bytesOf(Buffer.alloc(0)), 4))).toEqual([]);
    const chunks = await all(chunksOf(bytesOf(Buffer.alloc(8, 1)), 4));
    expect(chunks.map((chunk) => chunk.length)).toEqual([4, 4]);
  });

  it('slices a large Buffer without copying it', async () => {
    const body = randomBytes(10);
    const [first] = await all(chunksOf(bytesOf(body), 4));
    expect(first?.buffer).toBe(body.buffer);
  });
});

describe('bytesOf', () => {
  it('accepts string and Uint8Array chunks and refuses objects', async () => {
    const mixed = Readable.from(['ab', new Uint8Array([99])]);
    expect(Buffer.concat(await all(bytesOf(mixed))).toString()).toBe('abc');
    await expect(all(bytesOf(Readable.from([{ not: 'bytes' }])))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('Digest', () => {
  it('counts and hashes what passes', () => {
    const digest = new Digest();
    digest.update(Buffer.from('hello '));
    digest.update(Buffer.from('world'));
    expect(digest.size).toBe(11);
    expect(digest.hex()).toBe(createHash('sha256').update('hello world').digest('hex'));
  });
});
