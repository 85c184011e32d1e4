import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@understudy/errors';
import { FilesystemDriver } from '@understudy/storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localFolder, parseLocation, readLocation, type StoreOpener } from './model-files.js';

describe('parseLocation', () => {
  it('reads absolute paths and s3 URLs, nothing else', () => {
    expect(parseLocation('/models/minilm')).toEqual({ kind: 'path', path: '/models/minilm' });
    expect(parseLocation('s3://models/minilm/v1/')).toEqual({
      kind: 'object',
      bucket: 'models',
      key: 'minilm/v1/',
    });
    expect(parseLocation('models/minilm')).toBeUndefined();
    expect(parseLocation('s3://bucket-only')).toBeUndefined();
  });
});

describe('model files from the object store', () => {
  let dir: string;
  let store: FilesystemDriver;
  const opened: string[] = [];
  const open: StoreOpener = (bucket) => {
    opened.push(bucket);
    return Promise.resolve(store);
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'embedder-model-files-'));
    store = new FilesystemDriver({ root: join(dir, 'store') });
    await store.init();
    await store.put('minilm/config.json', Buffer.from('{"hidden_size":384}'));
    await store.put('minilm/onnx/model_quantized.onnx', Buffer.from('weights'));
    await store.put('other/config.json', Buffer.from('{}'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('copies the objects under the prefix once, and again when they change', async () => {
    const location = { kind: 'object', bucket: 'models', key: 'minilm' } as const;
    const cache = join(dir, 'cache');
    const folder = await localFolder(location, open, cache);
    expect(opened).toEqual(['models']);
    expect(folder).toMatch(/\/minilm-[0-9a-f]{16}$/);
    expect(await readFile(join(folder, 'onnx/model_quantized.onnx'), 'utf8')).toBe('weights');
    expect((await readdir(folder)).sort()).toEqual(['.complete', 'config.json', 'onnx']);

    expect(await localFolder(location, open, cache)).toBe(folder);
    await store.put('minilm/onnx/model_quantized.onnx', Buffer.from('new weights'));
    const updated = await localFolder(location, open, cache);
    expect(updated).not.toBe(folder);
    expect(await readFile(join(updated, 'onnx/model_quantized.onnx'), 'utf8')).toBe('new weights');
  });

  it('says when nothing is under the prefix', async () => {
    const location = { kind: 'object', bucket: 'models', key: 'missing/' } as const;
    await expect(localFolder(location, open, join(dir, 'cache'))).rejects.toMatchObject({
      code: ErrorCode.NotFound,
      message: 'no model files under s3://models/missing/',
    });
  });

  it('reads one file from a path or an object', async () => {
    const path = join(dir, 'idf.bin');
    await writeFile(path, 'table');
    expect(Buffer.from(await readLocation({ kind: 'path', path }, open)).toString()).toBe('table');
    const object = { kind: 'object', bucket: 'models', key: 'other/config.json' } as const;
    expect(Buffer.from(await readLocation(object, open)).toString()).toBe('{}');
  });
});
