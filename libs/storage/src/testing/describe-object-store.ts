import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ListEntry, ObjectStore } from '../object-store.js';

const MiB = 1024 * 1024;
const emptySha256 = createHash('sha256').digest('hex');

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Streams `total` random bytes in 64 KiB chunks, hashing them as they are made, never holding them all. */
function randomStream(total: number): { body: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  function* generate(): Generator<Buffer> {
    for (let sent = 0; sent < total;) {
      const chunk = randomBytes(Math.min(64 * 1024, total - sent));
      hash.update(chunk);
      sent += chunk.length;
      yield chunk;
    }
  }
  return { body: Readable.from(generate()), sha256: () => hash.digest('hex') };
}

/** Hashes a body while reading it, for objects too large to buffer comfortably. */
async function digestOf(body: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

function failingStream(goodBytes: number): Readable {
  function* generate(): Generator<Buffer> {
    yield randomBytes(goodBytes);
    throw new Error('source broke');
  }
  return Readable.from(generate());
}

async function collect(entries: AsyncIterable<ListEntry>): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of entries) {
    names.push(entry.type === 'object' ? entry.key : `${entry.prefix} (prefix)`);
  }
  return names;
}

async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(UnderstudyError);
    return (error as UnderstudyError).code;
  }
  throw new Error('expected a failure');
}

/**
 * The behaviour every ObjectStore driver must share. `makeStore` returns an initialised store
 * that may already hold objects from other suites: each test works under its own prefix. A
 * driver meant to be exercised on multipart uploads and pagination should be configured with a
 * 5 MiB part size and a small list page size.
 */
export function describeObjectStore(name: string, makeStore: () => Promise<ObjectStore>): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let store: ObjectStore;
    const area = () => `conformance/${randomUUID()}/`;

    beforeAll(async () => {
      store = await makeStore();
    });

    it('round-trips a streamed body and reports its hash', async () => {
      const key = `${area()}streamed.bin`;
      const chunks = [randomBytes(1000), randomBytes(70_000), randomBytes(3)];
      const expected = Buffer.concat(chunks);

      const put = await store.put(key, Readable.from(chunks));

      expect(put).toMatchObject({ key, size: expected.length, sha256: sha256(expected) });
      expect(await readAll(await store.get(key))).toEqual(expected);
      const stat = await store.stat(key);
      expect(stat).toMatchObject({ key, size: expected.length, sha256: sha256(expected) });
      expect(stat.etag).toBe(put.etag);
      expect(stat.lastModified.getTime()).toBeGreaterThan(Date.now() - 60_000);
    });

    it('stores Buffers, including an empty one', async () => {
      const prefix = area();
      const body = Buffer.from('hello, artifact');
      expect(await store.put(`${prefix}hello.txt`, body)).toMatchObject({
        size: body.length,
        sha256: sha256(body),
      });
      expect(await readAll(await store.get(`${prefix}hello.txt`))).toEqual(body);

      expect(await store.put(`${prefix}empty`, Buffer.alloc(0))).toMatchObject({
        size: 0,
        sha256: emptySha256,
      });
      expect(await readAll(await store.get(`${prefix}empty`))).toEqual(Buffer.alloc(0));
      expect(await readAll(await store.getRange(`${prefix}empty`, { offset: 0 }))).toEqual(
        Buffer.alloc(0),
      );
      expect(await codeOf(store.getRange(`${prefix}empty`, { offset: 0, length: 1 }))).toBe(
        ErrorCode.OutOfRange,
      );
      expect(await store.stat(`${prefix}empty`)).toMatchObject({ size: 0, sha256: emptySha256 });
    });

    it('streams a body larger than one part, hashing it on the way', async () => {
      const key = `${area()}large.bin`;
      const size = 12 * MiB + 12_345;
      const source = randomStream(size);

      const put = await store.put(key, source.body, { contentType: 'application/x-tar' });

      expect(put).toMatchObject({ size, sha256: source.sha256() });
      expect(await digestOf(await store.get(key))).toEqual({ size, sha256: put.sha256 });
      expect(await store.stat(key)).toMatchObject({
        size,
        sha256: put.sha256,
        etag: put.etag,
        contentType: 'application/x-tar',
      });
      // A range across the first part boundary.
      const crossing = await readAll(
        await store.getRange(key, { offset: 5 * MiB - 10, length: 20 }),
      );
      expect(crossing.length).toBe(20);
    });

    it('stores a large Buffer body', async () => {
      const key = `${area()}large-buffer.bin`;
      const body = randomBytes(11 * MiB);
      const put = await store.put(key, body, { metadata: { kind: 'adapter' } });
      expect(put).toMatchObject({ size: body.length, sha256: sha256(body) });
      expect(await digestOf(await store.get(key))).toEqual({
        size: body.length,
        sha256: sha256(body),
      });
      expect(await store.stat(key)).toMatchObject({
        sha256: sha256(body),
        metadata: { kind: 'adapter' },
      });
    });

    it('reads byte ranges', async () => {
      const key = `${area()}digits.txt`;
      await store.put(key, Buffer.from('0123456789'));
      const range = async (offset: number, length?: number) =>
        (
          await readAll(
            await store.getRange(key, length === undefined ? { offset } : { offset, length }),
          )
        ).toString();

      expect(await range(2, 3)).toBe('234');
      expect(await range(7)).toBe('789');
      expect(await range(0)).toBe('0123456789');
      expect(await range(8, 100)).toBe('89');
      expect(await codeOf(store.getRange(key, { offset: 10 }))).toBe(ErrorCode.OutOfRange);
      expect(await codeOf(store.getRange(key, { offset: -1 }))).toBe(ErrorCode.InvalidArgument);
      expect(await codeOf(store.getRange(key, { offset: 0, length: 0 }))).toBe(
        ErrorCode.InvalidArgument,
      );
    });

    it('reports a missing object as NotFound', async () => {
      const key = `${area()}missing`;
      expect(await codeOf(store.get(key))).toBe(ErrorCode.NotFound);
      expect(await codeOf(store.getRange(key, { offset: 0, length: 1 }))).toBe(ErrorCode.NotFound);
      expect(await codeOf(store.stat(key))).toBe(ErrorCode.NotFound);
      expect(await store.exists(key)).toBe(false);
    });

    it('replaces an object on overwrite', async () => {
      const key = `${area()}model.json`;
      await store.put(key, Buffer.from('first version, longer'), {
        contentType: 'text/plain',
        metadata: { version: '1' },
      });
      const second = Buffer.from('{"v":2}');
      await store.put(key, Readable.from([second]), { contentType: 'application/json' });

      expect(await readAll(await store.get(key))).toEqual(second);
      expect(await store.stat(key)).toMatchObject({
        size: second.length,
        sha256: sha256(second),
        contentType: 'application/json',
        metadata: {},
      });
    });

    it('deletes idempotently', async () => {
      const key = `${area()}doomed`;
      await store.put(key, Buffer.from('x'));
      expect(await store.exists(key)).toBe(true);

      await store.delete(key);
      await store.delete(key);

      expect(await store.exists(key)).toBe(false);
      expect(await codeOf(store.get(key))).toBe(ErrorCode.NotFound);
    });

    it('round-trips content type and metadata', async () => {
      const prefix = area();
      await store.put(`${prefix}with-meta`, Buffer.from('{}'), {
        contentType: 'application/json; charset=utf-8',
        metadata: { tenant: 'acme', 'run-id': 'r-42', note: ' Zoë said "hi" & left % ' },
      });
      expect(await store.stat(`${prefix}with-meta`)).toMatchObject({
        contentType: 'application/json; charset=utf-8',
        metadata: { tenant: 'acme', 'run-id': 'r-42', note: ' Zoë said "hi" & left % ' },
      });

      await store.put(`${prefix}plain`, Buffer.from('x'));
      const plain = await store.stat(`${prefix}plain`);
      expect(plain.contentType).toBe('application/octet-stream');
      expect(plain.metadata).toEqual({});
    });

    it('rejects invalid metadata and content types', async () => {
      const key = `${area()}bad-meta`;
      for (const metadata of [
        { Tenant: 'x' },
        { 'a b': 'x' },
        { '-a': 'x' },
        { big: 'x'.repeat(3000) },
      ]) {
        expect(await codeOf(store.put(key, Buffer.from('x'), { metadata }))).toBe(
          ErrorCode.InvalidArgument,
        );
      }
      expect(
        await codeOf(store.put(key, Buffer.from('x'), { contentType: 'text/plain\r\nx: y' })),
      ).toBe(ErrorCode.InvalidArgument);
      expect(await store.exists(key)).toBe(false);
    });

    it('rejects invalid keys on every operation', async () => {
      const invalid = [
        '',
        '/leading',
        'trailing/',
        'double//slash',
        'a/../escape',
        '..',
        'a/./b',
        'nul\u0000byte',
        'line\nbreak',
        'lone\ud800surrogate',
        'k'.repeat(1025),
        `${'s'.repeat(251)}/x`,
      ];
      for (const key of invalid) {
        expect(await codeOf(store.put(key, Buffer.from('x'))), key).toBe(ErrorCode.InvalidArgument);
        expect(await codeOf(store.get(key)), key).toBe(ErrorCode.InvalidArgument);
        expect(await codeOf(store.stat(key)), key).toBe(ErrorCode.InvalidArgument);
        expect(await codeOf(store.exists(key)), key).toBe(ErrorCode.InvalidArgument);
        expect(await codeOf(store.delete(key)), key).toBe(ErrorCode.InvalidArgument);
      }
      expect(await codeOf(collect(store.list('/abs')))).toBe(ErrorCode.InvalidArgument);
      expect(await codeOf(collect(store.list('a//')))).toBe(ErrorCode.InvalidArgument);
    });

    it('accepts keys with unusual but valid characters', async () => {
      const prefix = area();
      const names = [
        '007',
        '0x10',
        'with space',
        'plus+sign',
        'per%cent',
        'ünïcødé-日本',
        'a&b=c?d#e',
        '.hidden',
        '...',
      ];
      for (const name of names) {
        await store.put(`${prefix}${name}`, Buffer.from(name));
        expect((await readAll(await store.get(`${prefix}${name}`))).toString()).toBe(name);
      }
      const listed = await collect(store.list(prefix, { recursive: true }));
      expect(listed).toEqual(
        names
          .map((name) => `${prefix}${name}`)
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
      );
    });

    it('lists by prefix, recursively or one level deep, in key order', async () => {
      const prefix = area();
      const keys = [
        'p/a.txt',
        'p/b/1',
        'p/b/2',
        'p/b/c/3',
        'p/b-side',
        'p/c',
        'p/c.d/e',
        'p/z',
        'q/other',
      ];
      await Promise.all(keys.map((key) => store.put(`${prefix}${key}`, Buffer.from(key))));
      const at = (names: string[]) => names.map((name) => `${prefix}${name}`);

      expect(await collect(store.list(`${prefix}p/`, { recursive: true }))).toEqual(
        at(['p/a.txt', 'p/b-side', 'p/b/1', 'p/b/2', 'p/b/c/3', 'p/c', 'p/c.d/e', 'p/z']),
      );
      expect(await collect(store.list(`${prefix}p/`))).toEqual(
        at(['p/a.txt', 'p/b-side', 'p/b/ (prefix)', 'p/c', 'p/c.d/ (prefix)', 'p/z']),
      );
      expect(await collect(store.list(`${prefix}p/b`))).toEqual(at(['p/b-side', 'p/b/ (prefix)']));
      expect(await collect(store.list(`${prefix}p/b/`))).toEqual(
        at(['p/b/1', 'p/b/2', 'p/b/c/ (prefix)']),
      );
      expect(await collect(store.list(prefix))).toEqual(at(['p/ (prefix)', 'q/ (prefix)']));
      expect(await collect(store.list(`${prefix}nothing/`, { recursive: true }))).toEqual([]);

      for await (const entry of store.list(`${prefix}p/a`)) {
        expect(entry).toMatchObject({ type: 'object', key: `${prefix}p/a.txt`, size: 7 });
      }
    });

    it('lists many objects across pages and lets a consumer stop early', async () => {
      const prefix = area();
      const keys = Array.from({ length: 23 }, (_, i) => `${prefix}n/${String(i).padStart(3, '0')}`);
      await Promise.all(keys.map((key) => store.put(key, Buffer.from(key))));
      await Promise.all(
        ['x', 'y', 'z'].map((dir) => store.put(`${prefix}n/${dir}/inner`, Buffer.from(dir))),
      );

      expect(await collect(store.list(`${prefix}n/`))).toEqual([
        ...keys,
        `${prefix}n/x/ (prefix)`,
        `${prefix}n/y/ (prefix)`,
        `${prefix}n/z/ (prefix)`,
      ]);

      const seen: string[] = [];
      for await (const entry of store.list(prefix, { recursive: true })) {
        if (entry.type === 'object') seen.push(entry.key);
        if (seen.length === 3) break;
      }
      expect(seen).toEqual(keys.slice(0, 3));
    });

    it('takes concurrent puts of different keys', async () => {
      const prefix = area();
      const bodies = Array.from({ length: 16 }, (_, i) => randomBytes(1000 + i * 997));
      const results = await Promise.all(
        bodies.map((body, i) => store.put(`${prefix}c/${i}`, Readable.from([body]))),
      );
      for (const [i, body] of bodies.entries()) {
        expect(results[i]?.sha256).toBe(sha256(body));
        expect(await readAll(await store.get(`${prefix}c/${i}`))).toEqual(body);
      }
    });

    it('keeps content and hash consistent under concurrent overwrites of one key', async () => {
      const key = `${area()}contended`;
      const bodies = Array.from({ length: 8 }, () => randomBytes(4096));
      await Promise.all(bodies.map((body) => store.put(key, body)));

      const content = await readAll(await store.get(key));
      expect(bodies.some((body) => body.equals(content))).toBe(true);
      expect((await store.stat(key)).sha256).toBe(sha256(content));
    });

    it('leaves no object behind when the body fails', async () => {
      const prefix = area();
      expect(await codeOf(store.put(`${prefix}small`, failingStream(1000)))).toBeTypeOf('string');
      expect(await store.exists(`${prefix}small`)).toBe(false);

      expect(await codeOf(store.put(`${prefix}large`, failingStream(6 * MiB)))).toBeTypeOf(
        'string',
      );
      expect(await store.exists(`${prefix}large`)).toBe(false);

      await store.put(`${prefix}kept`, Buffer.from('original'));
      await codeOf(store.put(`${prefix}kept`, failingStream(6 * MiB)));
      expect((await readAll(await store.get(`${prefix}kept`))).toString()).toBe('original');
      expect(await collect(store.list(prefix, { recursive: true }))).toEqual([`${prefix}kept`]);
    });
  });
}
