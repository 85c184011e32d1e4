import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemDriver } from './filesystem-driver.js';
import { describeObjectStore } from './testing/describe-object-store.js';

const roots: string[] = [];

async function newRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'understudy-storage-'));
  roots.push(root);
  return root;
}

afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

describeObjectStore('filesystem', async () => {
  const store = new FilesystemDriver({ root: await newRoot() });
  await store.init();
  return store;
});

describe('FilesystemDriver', () => {
  let root: string;
  let store: FilesystemDriver;

  beforeAll(async () => {
    root = await newRoot();
    store = new FilesystemDriver({ root });
    await store.init();
  });

  it('keeps one blob per object and cleans up replaced and deleted ones', async () => {
    await store.put('gc/a', Buffer.from('1'));
    await store.put('gc/a', Buffer.from('2'));
    await store.put('gc/b', Buffer.from('3'));
    expect(await readdir(join(root, 'blobs'))).toHaveLength(2);

    await store.delete('gc/a');
    await store.delete('gc/b');
    expect(await readdir(join(root, 'blobs'))).toHaveLength(0);
    // Emptied directories are pruned so they do not show up as prefixes.
    expect(await readdir(join(root, 'keys'))).toEqual([]);
  });

  it('ignores what an interrupted put leaves behind', async () => {
    await store.put('crash/kept', Buffer.from('whole'));
    // A crash before the rename leaves a temporary sidecar and an unreferenced blob.
    await writeFile(join(root, 'keys', 'd.crash', 't.0000-partial'), '{"blob":');
    await writeFile(join(root, 'blobs', 'orphan'), 'half an obj');

    const keys: string[] = [];
    for await (const entry of store.list('crash/', { recursive: true })) {
      if (entry.type === 'object') keys.push(entry.key);
    }
    expect(keys).toEqual(['crash/kept']);
    expect(await store.exists('crash/partial')).toBe(false);
  });

  it('stores an object and the objects below its name side by side', async () => {
    await store.put('both/model', Buffer.from('file'));
    await store.put('both/model/adapter', Buffer.from('nested'));
    expect((await store.stat('both/model')).size).toBe(4);
    expect((await store.stat('both/model/adapter')).size).toBe(6);
    expect(await readdir(join(root, 'keys', 'd.both'))).toEqual(
      expect.arrayContaining(['m.model', 'd.model']),
    );
  });
});
