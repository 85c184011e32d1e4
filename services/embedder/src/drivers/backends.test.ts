import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@understudy/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settings } from '../config.js';
import { IdfTable } from '../domain/idf.js';
import { openBackend } from './backends.js';
import type { StoreOpener } from './model-files.js';

const noStore: StoreOpener = () => Promise.reject(new Error('no object store in this test'));
const backendFor = (env: Record<string, string>) => openBackend(loadConfig(settings, env), noStore);

describe('openBackend', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'embedder-backends-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is the featurizer by default, IDF-weighted with a table', async () => {
    expect((await backendFor({})).model).toBe('understudy-ngram-hash-v1-d256-s1');
    const table = IdfTable.fit(['a b c', 'a b d'], { seed: 1 });
    await writeFile(join(dir, 'idf.bin'), table.encode());
    const weighted = await backendFor({ UNDERSTUDY_EMBEDDER_IDF: join(dir, 'idf.bin') });
    expect(weighted.model).toBe(`understudy-ngram-tfidf-v1-d256-s1-idf${table.version}`);
  });

  it('is an OpenAI-compatible server when named, with its model', async () => {
    const backend = await backendFor({
      UNDERSTUDY_EMBEDDER_BACKEND: 'openai',
      UNDERSTUDY_EMBEDDER_OPENAI_URL: 'http://127.0.0.1:1/v1',
      UNDERSTUDY_EMBEDDER_OPENAI_MODEL: 'text-embedding-3-small',
    });
    expect([backend.backend, backend.model]).toEqual([
      'openai-compatible',
      'text-embedding-3-small',
    ]);
  });

  it('names the setting the chosen backend is missing', async () => {
    await expect(backendFor({ UNDERSTUDY_EMBEDDER_BACKEND: 'onnx' })).rejects.toThrow(
      'UNDERSTUDY_EMBEDDER_ONNX_MODEL (missing): required with UNDERSTUDY_EMBEDDER_BACKEND=onnx',
    );
    await expect(
      backendFor({
        UNDERSTUDY_EMBEDDER_BACKEND: 'openai',
        UNDERSTUDY_EMBEDDER_OPENAI_URL: 'http://x/v1',
      }),
    ).rejects.toThrow('UNDERSTUDY_EMBEDDER_OPENAI_MODEL (missing)');
  });

  it('refuses a model location that is neither a path nor an s3 URL', () => {
    expect(() => loadConfig(settings, { UNDERSTUDY_EMBEDDER_ONNX_MODEL: 'models/minilm' })).toThrow(
      'UNDERSTUDY_EMBEDDER_ONNX_MODEL ("models/minilm"): must be an absolute path or s3://bucket/key',
    );
  });

  it('fails to start with a folder that holds no model', async () => {
    await expect(
      backendFor({ UNDERSTUDY_EMBEDDER_BACKEND: 'onnx', UNDERSTUDY_EMBEDDER_ONNX_MODEL: dir }),
    ).rejects.toThrow(`cannot load the ONNX model in ${dir} (dtype fp32)`);
  });
});
