import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { FilesystemDriver } from '@understudy/storage';
import { describe, expect, it } from 'vitest';
import type { TrainerInvocation } from '../../domain/trainer-protocol.js';
import { invocation } from '../../testing/service.js';
import type { Executor, ExecutorEvent, JobHandle } from '../executor.js';
import { StagingExecutor } from './staging-executor.js';

/**
 * Stands in for the local trainer: reads the staged manifest and a split as the trainer would,
 * writes an adapter and a log below its output URI, and reports the outcome it was given.
 */
class FileTrainer implements Executor {
  seen: { invocation: TrainerInvocation; manifest: unknown; train: string } | undefined;

  constructor(private readonly outcome: 'succeeded' | 'failed') {}

  async submit(run: TrainerInvocation): Promise<JobHandle> {
    const manifest = JSON.parse(await readFile(fileURLToPath(run.datasetUri), 'utf8')) as {
      splits: { train: { uri: string } };
    };
    const train = await readFile(fileURLToPath(manifest.splits.train.uri), 'utf8');
    this.seen = { invocation: run, manifest, train };
    const output = fileURLToPath(run.outputUri);
    await mkdir(join(output, 'adapter'), { recursive: true });
    await writeFile(join(output, 'train.log'), 'step 1\n');
    if (this.outcome === 'succeeded') {
      await writeFile(join(output, 'adapter', 'adapter_config.json'), '{"r":4}');
    }
    return { name: `trainer-${run.runId}` };
  }

  async *watch(): AsyncGenerator<ExecutorEvent> {
    const run = this.seen?.invocation;
    if (run === undefined) throw new Error('nothing submitted');
    yield await Promise.resolve({ type: 'started', attempt: 1 } as const);
    yield this.outcome === 'succeeded'
      ? {
          type: 'succeeded',
          adapterUri: `${run.outputUri}adapter`,
          metrics: { train_loss: 1 },
          result: { files: [] },
        }
      : { type: 'failed', failure: { reason: 'out of memory', retryable: false } };
  }

  cancel(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function setUp(outcome: 'succeeded' | 'failed') {
  const root = await mkdtemp(join(tmpdir(), 'staging-'));
  const store = new FilesystemDriver({ root: join(root, 'objects') });
  await store.init();
  await store.put('datasets/acme/d-1/train.jsonl', Buffer.from('{"messages":[]}\n'));
  await store.put('datasets/acme/d-1/eval.jsonl', Buffer.from('{"messages":[]}\n'));
  await store.put(
    'datasets/acme/d-1/manifest.json',
    Buffer.from(
      JSON.stringify({
        format: 'openai-chat-jsonl',
        splits: {
          train: { uri: 's3://understudy/datasets/acme/d-1/train.jsonl', rows: 1, sha256: 'x' },
          eval: { uri: 's3://understudy/datasets/acme/d-1/eval.jsonl', rows: 1, sha256: 'y' },
        },
      }),
    ),
  );
  const trainer = new FileTrainer(outcome);
  const workDir = join(root, 'work');
  const executor = new StagingExecutor(trainer, { store, bucket: 'understudy', workDir });
  return { store, trainer, executor, workDir };
}

async function events(executor: Executor, handle: JobHandle): Promise<ExecutorEvent[]> {
  const seen: ExecutorEvent[] = [];
  for await (const event of executor.watch(handle, new AbortController().signal)) seen.push(event);
  return seen;
}

describe('StagingExecutor', () => {
  it('stages the dataset as files, then uploads the outputs and reports the stored adapter', async () => {
    const { store, trainer, executor, workDir } = await setUp('succeeded');
    const run = invocation();
    const handle = await executor.submit(run);

    expect(trainer.seen?.invocation.datasetUri).toMatch(/^file:\/\/.*\/input\/manifest\.json$/);
    expect(trainer.seen?.manifest).toMatchObject({
      format: 'openai-chat-jsonl',
      splits: { train: { rows: 1, sha256: 'x' }, eval: { rows: 1, sha256: 'y' } },
    });
    expect(trainer.seen?.train).toBe('{"messages":[]}\n');

    expect(await events(executor, handle)).toEqual([
      { type: 'started', attempt: 1 },
      {
        type: 'succeeded',
        adapterUri: `${run.outputUri}adapter`,
        metrics: { train_loss: 1 },
        result: { files: [] },
      },
    ]);
    const prefix = 'training-runs/acme/3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90/';
    expect(await text(await store.get(`${prefix}adapter/adapter_config.json`))).toBe('{"r":4}');
    expect(await store.exists(`${prefix}train.log`)).toBe(true);
    expect(existsSync(join(workDir, run.runId))).toBe(false);
  });

  it('keeps the log of a failed run in the store', async () => {
    const { store, executor } = await setUp('failed');
    const handle = await executor.submit(invocation());
    expect((await events(executor, handle)).at(-1)).toMatchObject({ type: 'failed' });
    expect(
      await store.exists('training-runs/acme/3f0c2a8e-5d1b-4c7e-9a26-1b8f4e6d7c90/train.log'),
    ).toBe(true);
  });

  it('refuses a dataset outside its store', async () => {
    const { executor } = await setUp('succeeded');
    await expect(
      executor.submit(invocation({ datasetUri: 's3://elsewhere/manifest.json' })),
    ).rejects.toThrow(/not in the platform's object store/);
  });
});
