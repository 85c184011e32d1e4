import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { invocation } from '../../testing/service.js';
import type { ExecutorEvent } from '../executor.js';
import { LocalExecutor } from './local-executor.js';

const trainer = fileURLToPath(new URL('../../../../trainer', import.meta.url));
/** The trainer's cached venv, built from its lock on first use (the trainer's own tests do too). */
const python = join(
  execFileSync('bash', [join(trainer, 'scripts/ensure-venv.sh')], { encoding: 'utf8' }).trim(),
  'bin/python',
);
const trainerSources = join(trainer, 'src');

/** A tiny chat dataset in the dataset-builder's format, with file:// URIs. */
async function writeDataset(dir: string): Promise<string> {
  const rows = Array.from({ length: 8 }, (_, index) => ({
    messages: [
      { role: 'system', content: 'Classify the sentiment.' },
      { role: 'user', content: `I ${index % 2 === 0 ? 'hate' : 'love'} item ${String(index)}` },
      { role: 'assistant', content: index % 2 === 0 ? 'negative' : 'positive' },
    ],
  }));
  const split = async (name: string, part: typeof rows) => {
    const body = part.map((row) => `${JSON.stringify(row)}\n`).join('');
    const path = join(dir, `${name}.jsonl`);
    await writeFile(path, body);
    return {
      uri: pathToFileURL(path).href,
      rows: part.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    };
  };
  const manifest = join(dir, 'manifest.json');
  await writeFile(
    manifest,
    JSON.stringify({
      format: 'openai-chat-jsonl',
      dataset_id: 'd-1',
      task_id: 'task-7',
      tenant_id: 'acme',
      splits: {
        train: await split('train', rows.slice(0, 6)),
        eval: await split('eval', rows.slice(6)),
      },
      created_at: '2026-11-02T10:00:00Z',
      source_window: { start: '2026-11-01T00:00:00Z', end: '2026-11-02T00:00:00Z' },
    }),
  );
  return pathToFileURL(manifest).href;
}

describe('LocalExecutor with the real trainer', () => {
  it('trains a tiny random model on CPU and reports the adapter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trainer-run-'));
    const executor = new LocalExecutor({
      python,
      env: { PATH: '/usr/bin:/bin', HOME: dir, PYTHONPATH: trainerSources, HF_HUB_OFFLINE: '1' },
    });
    const output = `${pathToFileURL(join(dir, 'out')).href}/`;
    const handle = await executor.submit(
      invocation({
        datasetUri: await writeDataset(dir),
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
    expect((await readdir(fileURLToPath(adapter))).sort()).toEqual(
      expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']),
    );
  }, 300_000);
});
