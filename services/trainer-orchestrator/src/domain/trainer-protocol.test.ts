import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lines, parseTrainerLine } from './trainer-protocol.js';

const now = new Date('2026-11-02T10:00:00Z');

describe('parseTrainerLine', () => {
  it('reads the contract’s three line kinds', () => {
    expect(
      parseTrainerLine(
        '{"event":"progress","step":3,"total_steps":10,"loss":1.25,"epoch":0.3,"eval_loss":1.4}',
        now,
      ),
    ).toEqual({
      event: 'progress',
      progress: { step: 3, totalSteps: 10, loss: 1.25, epoch: 0.3, evalLoss: 1.4, reportedAt: now },
    });
    expect(
      parseTrainerLine(
        '{"event":"succeeded","adapter":"s3://b/a/","metrics":{"train_loss":1.1,"note":"x"}}',
        now,
      ),
    ).toEqual({
      event: 'succeeded',
      adapterUri: 's3://b/a/',
      metrics: { train_loss: 1.1 },
      // An older trainer's line: nothing reported beyond the metrics.
      result: { files: [] },
    });
    expect(parseTrainerLine('{"event":"failed","reason":"oom","retryable":true}', now)).toEqual({
      event: 'failed',
      failure: { reason: 'oom', retryable: true },
    });
  });

  it('reads what a succeeded trainer reports of its adapter for the registry', () => {
    const line = {
      event: 'succeeded',
      adapter: 's3://b/run/adapter',
      metrics: { train_loss: 1.1 },
      files: [{ path: 'adapter_model.safetensors', size_bytes: 4096, sha256: 'c'.repeat(64) }],
      footprint: {
        base_parameter_count: 1000,
        adapter_parameter_count: 24,
        serving_memory_bytes: 4096,
        dtype: 'float32',
      },
      license: null,
      // A tool metric is null when no sample called tools: left out, like a diverged loss.
      evaluation: {
        evaluator_version: 'greedy-teacher-match@1',
        split: 'eval',
        example_count: 6,
        metrics: { exact_match: 0.5, tool_call_match: null },
      },
    };
    expect(parseTrainerLine(JSON.stringify(line), now)).toEqual({
      event: 'succeeded',
      adapterUri: 's3://b/run/adapter',
      metrics: { train_loss: 1.1 },
      result: {
        files: [{ path: 'adapter_model.safetensors', sizeBytes: 4096, sha256: 'c'.repeat(64) }],
        footprint: {
          baseParameterCount: 1000,
          adapterParameterCount: 24,
          servingMemoryBytes: 4096,
          dtype: 'float32',
        },
        evaluation: {
          evaluatorVersion: 'greedy-teacher-match@1',
          exampleCount: 6,
          metrics: { exact_match: 0.5 },
        },
      },
    });
    // A file without a proper digest breaks the contract: the line is no report.
    const badFile = { ...line, files: [{ path: 'a', size_bytes: 1, sha256: 'nope' }] };
    expect(parseTrainerLine(JSON.stringify(badFile), now)).toBeUndefined();
  });

  it('ignores anything else', () => {
    for (const text of [
      '',
      'Loading checkpoint shards: 100%',
      '{not json',
      '{"event":"progress","step":"three"}',
      '{"event":"unknown"}',
      '[1,2]',
    ]) {
      expect(parseTrainerLine(text, now)).toBeUndefined();
    }
  });
});

describe('lines', () => {
  it('splits chunks at newlines, keeping a last unterminated line', async () => {
    const seen: string[] = [];
    for await (const line of lines(Readable.from(['a\nb', 'c\n', '\nd']))) seen.push(line);
    expect(seen).toEqual(['a', 'bc', '', 'd']);
  });
});
