import { describe, expect, it } from 'vitest';
import { Featurizer } from './featurizer.js';
import { dot } from './vectors.js';

const featurizer = new Featurizer({ dimension: 256, seed: 1 });
const norm = (v: Float32Array) => Math.sqrt(dot(v, v));

describe('Featurizer', () => {
  it('is deterministic and seeded', () => {
    const text = 'Refund order 123 please, it arrived broken';
    expect(featurizer.embed(text)).toEqual(featurizer.embed(text));
    expect(new Featurizer({ dimension: 256, seed: 1 }).embed(text)).toEqual(featurizer.embed(text));
    expect(new Featurizer({ dimension: 256, seed: 2 }).embed(text)).not.toEqual(
      featurizer.embed(text),
    );
    expect(featurizer.model).toBe('understudy-ngram-hash-v1-d256-s1');
  });

  it('returns unit vectors of the configured dimension, and zeros for no words', () => {
    const vector = featurizer.embed('Summarise this meeting transcript');
    expect(vector).toHaveLength(256);
    expect(norm(vector)).toBeCloseTo(1, 5);
    expect(new Featurizer({ dimension: 64, seed: 1 }).embed('x y')).toHaveLength(64);
    expect(norm(featurizer.embed('  ...  '))).toBe(0);
  });

  it('ignores case and spacing', () => {
    expect(dot(featurizer.embed('Hello   World'), featurizer.embed('hello world'))).toBeCloseTo(1);
  });

  it('puts texts of one task closer than texts of different tasks', () => {
    const invoiceA = featurizer.embed(
      'Extract the vendor, total and due date from this invoice: ACME Corp, total 1,200.00 USD, due 2024-03-01',
    );
    const invoiceB = featurizer.embed(
      'Extract the vendor, total and due date from this invoice: Globex Ltd, total 87.10 EUR, due 2025-11-30',
    );
    const poem = featurizer.embed('Write a haiku about autumn leaves falling on a quiet pond');
    const same = dot(invoiceA, invoiceB);
    expect(same).toBeGreaterThan(0.5);
    expect(dot(invoiceA, poem)).toBeLessThan(0.25);
    expect(dot(invoiceB, poem)).toBeLessThan(same - 0.3);
  });
});
