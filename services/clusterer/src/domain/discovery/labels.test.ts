import { describe, expect, it } from 'vitest';
import { termsOf } from '@understudy/text';
import { callsPerDay, distinctiveTerms, representatives, taskLabel } from './labels.js';

describe('labels', () => {
  it('ranks terms by class-based TF-IDF', () => {
    const terms = distinctiveTerms(
      [
        ['translate this sentence', 'translate that letter'],
        ['write sql query', 'sql query please'],
      ].map((texts) => texts.map(termsOf)),
    );
    // translate: 2/4 · ln(1 + 4.5/2) = 0.589; letter, sentence: 1/4 · ln(1 + 4.5/1) = 0.426.
    // query, sql: 2/5 · ln(3.25) = 0.471; write: 1/5 · ln(5.5) = 0.341.
    expect(terms).toEqual([
      ['translate', 'letter', 'sentence'],
      ['query', 'sql', 'write'],
    ]);
  });

  it('prefers terms frequent in one task over terms frequent in all', () => {
    const [first] = distinctiveTerms(
      [
        ['invoice total invoice', 'invoice total'],
        ['total refund', 'total refund'],
      ].map((texts) => texts.map(termsOf)),
    );
    expect(first?.[0]).toBe('invoice');
  });

  it('drops terms found in too few of a task’s texts', () => {
    const terms = distinctiveTerms(
      [['translate this sentence', 'translate that letter'].map(termsOf)],
      {
        top: 5,
        minDocumentShare: 0.6,
      },
    );
    expect(terms).toEqual([['translate']]);
  });

  it('picks the most typical members, one per distinct content', () => {
    const vectors = Float32Array.from([1, 0, 0.9, 0.436, 1, 0, 0, 1]);
    const keys = ['a', 'b', 'a', 'c'];
    expect(
      representatives(vectors, 2, [0, 1, 2, 3], [1, 0], (call) => keys[call] ?? '', 2),
    ).toEqual([0, 1]);
    expect(representatives(vectors, 2, [3], [1, 0], (call) => keys[call] ?? '', 2)).toEqual([3]);
  });

  it('labels a task by place and terms', () => {
    expect(
      taskLabel({ agentName: 'router', stepName: 'route' }, [
        'account',
        'billing',
        'refund',
        'reset',
        'x',
      ]),
    ).toBe('router / route: account, billing, refund, reset');
    expect(taskLabel({ agentName: 'assistant', stepName: '' }, [])).toBe('assistant');
    expect(taskLabel({ agentName: '', stepName: '' }, [])).toBe('unnamed task');
  });

  it('measures the rate over the trailing days', () => {
    const day = 86_400_000;
    const now = 100 * day;
    expect(
      callsPerDay([now - 1, now - 2 * day, now - 6.5 * day, now - 8 * day, now + 1], now, 7),
    ).toBeCloseTo(3 / 7);
  });
});
