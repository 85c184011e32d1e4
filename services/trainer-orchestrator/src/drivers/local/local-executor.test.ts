import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { invocation } from '../../testing/service.js';
import type { Executor, ExecutorEvent } from '../executor.js';
import { writeFakeTrainer } from './testing/fake-trainer.js';
import { LocalExecutor } from './local-executor.js';

async function collect(executor: Executor, name: string): Promise<ExecutorEvent[]> {
  const seen: ExecutorEvent[] = [];
  for await (const event of executor.watch({ name }, new AbortController().signal))
    seen.push(event);
  return seen;
}

async function executor(mode: string) {
  const fake = await writeFakeTrainer();
  return {
    ...fake,
    executor: new LocalExecutor({
      python: fake.python,
      env: { PATH: '/usr/bin:/bin', FAKE_TRAINER_MODE: mode },
      killGraceMs: 500,
    }),
  };
}

describe('LocalExecutor', () => {
  it('runs the trainer CLI and turns its JSON lines into events', async () => {
    const { executor: local, argsFile } = await executor('succeed');
    const run = invocation();
    const handle = await local.submit(run);
    expect(await local.submit(run)).toEqual(handle);
    const events = await collect(local, handle.name);
    expect(events.map((event) => event.type)).toEqual([
      'started',
      'progress',
      'progress',
      'succeeded',
    ]);
    expect(events[3]).toEqual({
      type: 'succeeded',
      adapterUri: `${run.outputUri}adapter/`,
      metrics: { train_loss: 1.5 },
      result: {
        files: [
          { path: 'adapter_config.json', sizeBytes: 640, sha256: 'a'.repeat(64) },
          { path: 'adapter_model.safetensors', sizeBytes: 98_304, sha256: 'b'.repeat(64) },
        ],
        footprint: {
          baseParameterCount: 1_000_000,
          adapterParameterCount: 24_576,
          servingMemoryBytes: 4_098_304,
          dtype: 'float32',
        },
        license: 'apache-2.0',
        evaluation: {
          evaluatorVersion: 'greedy-teacher-match@1',
          exampleCount: 4,
          metrics: { exact_match: 0.75, token_f1: 0.9 },
        },
      },
    });
    const args = (await readFile(argsFile, 'utf8')).trim().split('\n');
    expect(args).toEqual([
      '-m',
      'understudy_trainer',
      'train',
      '--dataset',
      run.datasetUri,
      '--output',
      run.outputUri,
      '--base-model',
      run.baseModel,
      '--run-id',
      run.runId,
      '--config',
      '{"lora_r":16,"epochs":2}',
    ]);
  });

  it('reports the trainer’s own failure, or the exit code when it said nothing', async () => {
    const failing = await executor('fail');
    const handle = await failing.executor.submit(invocation());
    expect((await collect(failing.executor, handle.name)).at(-1)).toEqual({
      type: 'failed',
      failure: { reason: 'dataset has no rows', retryable: false },
    });
    const crashing = await executor('crash');
    await crashing.executor.submit(invocation());
    expect((await collect(crashing.executor, handle.name)).at(-1)).toEqual({
      type: 'failed',
      failure: {
        reason: 'the trainer exited with code 3 without reporting success',
        retryable: false,
      },
    });
  });

  it('kills the whole process group on cancel', async () => {
    const { executor: local } = await executor('hang');
    const handle = await local.submit(invocation());
    const events: ExecutorEvent[] = [];
    const watching = (async () => {
      for await (const event of local.watch(handle, new AbortController().signal)) {
        events.push(event);
      }
    })();
    await expect.poll(() => events.length).toBe(2);
    const started = Date.now();
    await local.cancel(handle);
    await watching;
    // SIGTERM reaches the shell and its sleeping child: no wait for the kill grace.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(events.at(-1)).toMatchObject({ type: 'failed', failure: { retryable: true } });
  });

  it('fails without retry when the python cannot start, and forgets jobs across restarts', async () => {
    const local = new LocalExecutor({ python: '/nonexistent/python', env: {} });
    const handle = await local.submit(invocation());
    expect(await collect(local, handle.name)).toEqual([
      {
        type: 'failed',
        failure: {
          reason: expect.stringContaining('cannot start the trainer') as string,
          retryable: false,
        },
      },
    ]);
    expect(await collect(new LocalExecutor({ python: 'x', env: {} }), handle.name)).toEqual([
      {
        type: 'failed',
        failure: { reason: 'the local trainer process was lost in a restart', retryable: true },
      },
    ]);
  });
});
