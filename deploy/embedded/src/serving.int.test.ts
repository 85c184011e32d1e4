import { execFile } from 'node:child_process';
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { FilesystemDriver } from '@understudy/storage';
import { trainerPython, writeTinyDataset, type TrainerPython } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalServing } from './serving.js';

/** Trains a two-step LoRA adapter on the tiny random Qwen2 and returns its directory. */
async function trainAdapter(dir: string, { python, pythonPath }: TrainerPython): Promise<string> {
  const output = join(dir, 'run');
  await promisify(execFile)(
    python,
    [
      ...['-m', 'understudy_trainer', 'train', '--dataset', await writeTinyDataset(dir)],
      ...['--output', `${pathToFileURL(output).href}/`, '--base-model', 'tiny-random:qwen2'],
      ...['--run-id', 'run-1', '--config', '{"max_steps":2,"lora_r":4}'],
    ],
    { env: { PATH: '/usr/bin:/bin', HOME: dir, PYTHONPATH: pythonPath, HF_HUB_OFFLINE: '1' } },
  );
  return join(output, 'adapter');
}

describe('LocalServing with the real trainer', () => {
  let dir: string;
  let serving: LocalServing | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-serving-real-'));
  });

  afterAll(async () => {
    await serving?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a trained adapter from the object store', async () => {
    const trainer = await trainerPython();
    const adapter = await trainAdapter(dir, trainer);
    const store = new FilesystemDriver({ root: join(dir, 'objects') });
    await store.init();
    const files = await readdir(adapter, { recursive: true, withFileTypes: true });
    for (const file of files.filter((entry) => entry.isFile())) {
      const path = join(file.parentPath, file.name);
      await store.put(`models/m1/adapter/${relative(adapter, path)}`, await readFile(path));
    }
    serving = new LocalServing({
      host: '127.0.0.1',
      port: 0,
      ...trainer,
      store,
      bucket: 'adapters',
      workDir: join(dir, 'serving'),
      resolve: (model) =>
        Promise.resolve(
          model === 'understudy-m1'
            ? { baseModel: 'tiny-random:qwen2', adapterUri: 's3://adapters/models/m1/adapter/' }
            : undefined,
        ),
    });
    const url = await serving.start();

    const response = await fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'understudy-m1',
        messages: [{ role: 'user', content: 'I love item 9' }],
        max_tokens: 4,
      }),
    });

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      object: 'chat.completion',
      model: 'understudy-m1',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: expect.any(String) as string },
          finish_reason: expect.stringMatching(/^(stop|length)$/) as string,
        },
      ],
      usage: { prompt_tokens: expect.any(Number) as number },
    });

    const streamed = await fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'understudy-m1',
        messages: [{ role: 'user', content: 'I hate item 9' }],
        max_tokens: 4,
        stream: true,
      }),
    });
    expect(streamed.headers.get('content-type')).toBe('text/event-stream');
    const events = (await streamed.text()).split('\n\n').filter((event) => event !== '');
    expect(events.at(-1)).toBe('data: [DONE]');
    for (const event of events.slice(0, -1)) {
      expect(JSON.parse(event.replace(/^data: /, ''))).toMatchObject({
        object: 'chat.completion.chunk',
        model: 'understudy-m1',
      });
    }

    const models = (await (await fetch(`${url}/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((model) => model.id)).toEqual(['understudy-m1']);
  }, 300_000);
});
