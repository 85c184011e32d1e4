import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { Featurizer, featuresOf } from './featurizer.js';
import { IdfTable } from './idf.js';
import { dot } from './vectors.js';

const corpus = [
  'please summarise this meeting transcript',
  'please translate this contract into french',
  'please classify this support ticket',
  'please extract the total from this invoice',
];

describe('IdfTable', () => {
  const table = IdfTable.fit(corpus, { seed: 1 });

  it('weighs a feature by the share of documents it occurs in, keeping those in two or more', () => {
    const weights = table.weights(1);
    const index = (word: string) => [...featuresOf(word, 1).words.keys()][0] ?? -1;
    // In all four documents: ln(5/5) + 1; in none (or one): ln(5/1) + 1.
    expect(weights[index('please')]).toBeCloseTo(1, 6);
    expect(weights[index('this')]).toBeCloseTo(1, 6);
    expect(weights[index('invoice')]).toBeCloseTo(Math.log(5) + 1, 5);
    expect(weights[index('never seen')]).toBeCloseTo(Math.log(5) + 1, 5);
    expect(table.documents).toBe(4);
    expect(table.size).toBeGreaterThan(0);
  });

  it('round-trips through its encoding, and is versioned by its content', () => {
    const decoded = IdfTable.decode(table.encode());
    expect(decoded.version).toBe(table.version);
    expect(decoded.version).toMatch(/^[0-9a-f]{12}$/);
    expect(decoded.weights(1)).toEqual(table.weights(1));
    expect(IdfTable.fit(corpus.slice(1), { seed: 1 }).version).not.toBe(table.version);
  });

  it('refuses damaged tables and a featurizer of another seed', () => {
    const bytes = table.encode();
    expect(() => IdfTable.decode(bytes.slice(0, 10))).toThrow('not an IDF table: too short');
    expect(() => IdfTable.decode(bytes.slice(0, bytes.length - 4))).toThrow(
      'not an IDF table: length does not match',
    );
    const garbled = bytes.slice();
    garbled[0] = 0;
    expect(() => IdfTable.decode(garbled)).toThrow('bad magic number');
    expect(() => table.weights(2)).toThrow(
      expect.objectContaining({ code: ErrorCode.FailedPrecondition }),
    );
  });

  it('names the model after the table and lowers what every document shares', () => {
    const plain = new Featurizer({ dimension: 256, seed: 1 });
    const weighted = new Featurizer({ dimension: 256, seed: 1, idf: table });
    expect(weighted.model).toBe(`understudy-ngram-tfidf-v1-d256-s1-idf${table.version}`);
    const [a, b] = ['please classify this ticket', 'please translate this letter'];
    expect(dot(weighted.embed(a), weighted.embed(b))).toBeLessThan(
      dot(plain.embed(a), plain.embed(b)),
    );
  });
});
