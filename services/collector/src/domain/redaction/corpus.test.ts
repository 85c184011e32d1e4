import { describe, expect, it } from 'vitest';
import { createRedactor } from './redactor.js';
import { evaluate, loadCorpus } from './testing/corpus.js';

/*
 * A regression guard, not the measurement (bench/redaction-eval.ts prints that): floors a
 * little below what the detectors scored when they were last tuned, so that a change that
 * loses recall or precision fails here.
 */
const redactor = createRedactor({ secret: new Uint8Array(32).fill(9) });
const corpus = loadCorpus();
const generated = evaluate(
  redactor,
  corpus.filter((item) => item.source !== 'handwritten'),
);
const handwritten = evaluate(
  redactor,
  corpus.filter((item) => item.source === 'handwritten'),
);

/** Overlap-matching floors per entity on the generated corpus: [precision, recall]. */
const floors: Record<string, [number, number]> = {
  API_KEY: [0.97, 0.97],
  CREDIT_CARD: [0.97, 0.97],
  EMAIL: [0.97, 0.97],
  IBAN: [0.97, 0.97],
  IP_ADDRESS: [0.97, 0.97],
  JWT: [0.97, 0.97],
  PHONE_NUMBER: [0.97, 0.97],
  PRIVATE_KEY: [0.97, 0.97],
  SECRET: [0.95, 0.85],
  US_SSN: [0.97, 0.97],
};

describe('the labelled corpus', () => {
  it('is large enough to mean something', () => {
    expect(generated.items).toBeGreaterThanOrEqual(400);
    expect(generated.negativeItems).toBeGreaterThanOrEqual(100);
    expect(generated.entities.map((e) => e.entity)).toEqual(Object.keys(floors));
  });

  it.each(Object.entries(floors))('%s stays above its floors', (entity, [precision, recall]) => {
    const score = generated.entities.find((e) => e.entity === entity)?.overlap;
    expect(score?.precision).toBeGreaterThanOrEqual(precision);
    expect(score?.recall).toBeGreaterThanOrEqual(recall);
  });

  it('keeps exact spans and leaves hard negatives alone', () => {
    expect(generated.overall.exact.precision).toBeGreaterThanOrEqual(0.98);
    expect(generated.overall.exact.recall).toBeGreaterThanOrEqual(0.96);
    expect(generated.negativeItemsWithFindings).toBeLessThanOrEqual(2);
  });

  it('generalises to the hand-written items', () => {
    expect(handwritten.overall.overlap.precision).toBeGreaterThanOrEqual(0.9);
    expect(handwritten.overall.overlap.recall).toBeGreaterThanOrEqual(0.8);
  });
});
