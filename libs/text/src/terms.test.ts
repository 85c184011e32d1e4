import { describe, expect, it } from 'vitest';
import { termsOf, topTerms } from './terms.js';

describe('termsOf', () => {
  it('keeps lowercase words of three or more letters, without stop words', () => {
    expect(termsOf('Please REFUND the order of Ms. Müller, it is 3 days late!')).toEqual([
      'refund',
      'order',
      'müller',
      'days',
      'late',
    ]);
  });

  it('splits words at digits and leaves out the short remainders', () => {
    expect(termsOf('Invoice INV2024x001 for user42 and abc1de')).toEqual([
      'invoice',
      'inv',
      'user',
      'abc',
    ]);
  });

  it('normalises compatibility forms before matching', () => {
    expect(termsOf('ﬁle Ｗｉｄｅ')).toEqual(['file', 'wide']);
  });

  it('finds nothing in text without words', () => {
    expect(termsOf('42 + 7 = 49; ok?')).toEqual([]);
  });
});

describe('topTerms', () => {
  it('ranks distinct terms by frequency, ties in order of first appearance', () => {
    const text = 'Refund the order. Cancel the order? Refund shipping, then order again.';
    expect(topTerms(text, 10)).toEqual(['order', 'refund', 'cancel', 'shipping']);
  });

  it('keeps at most `limit` terms', () => {
    expect(topTerms('alpha beta beta gamma gamma gamma', 2)).toEqual(['gamma', 'beta']);
    expect(topTerms('alpha beta', 0)).toEqual([]);
  });

  it('counts a word however it is cased', () => {
    expect(topTerms('Invoice invoice INVOICE receipt', 5)).toEqual(['invoice', 'receipt']);
  });
});
