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
    ).toEqual({ event: 'succeeded', adapterUri: 's3://b/a/', metrics: { train_loss: 1.1 } });
    expect(parseTrainerLine('{"event":"failed","reason":"oom","retryable":true}', now)).toEqual({
      event: 'failed',
      failure: { reason: 'oom', retryable: true },
    });
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
