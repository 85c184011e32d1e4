import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { trainerPython, writeTinyDataset } from '@understudy/testbed';
import { describe, expect, it } from 'vitest';
import { invocation } from '../../testing/service.js';
import type { ExecutorEvent } from '../executor.js';
import { LocalExecutor } from './local-executor.js';

describe('LocalExecutor with the real trainer', () => {
  it('trains a tiny random model on CPU and reports the adapter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trainer-run-'));
    const { python, pythonPath } = await trainerPython();
    const executor = new LocalExecutor({
      python,
      env: { PATH: '/usr/bin:/bin', HOME: dir, PYTHONPATH: pythonPath, HF_HUB_OFFLINE: '1' },
    });
    const output = `${pathToFileURL(join(dir, 'out')).href}/`;
    const handle = await executor.submit(
      invocation({
        datasetUri: await writeTinyDataset(dir),
        outputUri: output,
        baseModel: 'tiny-random:llama',
        hyperParameters: { max_steps: 2, lora_r: 4 },
      }),
    );
    const events: ExecutorEvent[] = [];
    for await (const event of executor.watch(handle, new AbortController().signal)) {
      events.push(event);
    }
    expect(events.map((event) => event.type)).toEqual([
      'started',
      'progress',
      'progress',
      'succeeded',
    ]);
    const succeeded = events.at(-1);
    expect(succeeded).toMatchObject({
      type: 'succeeded',
      metrics: { train_loss: expect.any(Number) as number },
    });
    const adapter = succeeded?.type === 'succeeded' ? succeeded.adapterUri : '';
    expect(adapter.startsWith(output)).toBe(true);
    const written = (await readdir(fileURLToPath(adapter))).sort();
    expect(written).toEqual(
      expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']),
    );
    // The trainer describes every file it wrote, for the registry.
    const described = succeeded?.type === 'succeeded' ? succeeded.result.files : [];
    expect(described.map((file) => file.path)).toEqual(written);
  }, 300_000);
});
