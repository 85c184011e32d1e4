import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import {
  callCost,
  defaultPriceTable,
  parsePriceTable,
  priceOf,
  pricer,
  priceTableSchema,
  type PriceTable,
} from './prices.js';

const table: PriceTable = priceTableSchema.parse({
  currency: 'USD',
  models: {
    'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10 },
    'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
    'azure.ai.openai/gpt-4o': { inputPerMillion: 2.75, outputPerMillion: 11 },
  },
  small: { name: 'tiny', inputPerMillion: 0.2, outputPerMillion: 0.2 },
});

/** What `parsePriceTable` threw, which must be an UnderstudyError. */
function refusal(json: string): UnderstudyError {
  try {
    parsePriceTable(json, '/etc/prices.json');
  } catch (error) {
    expect(error).toBeInstanceOf(UnderstudyError);
    return error as UnderstudyError;
  }
  throw new Error(`parsed ${json}`);
}

describe('priceOf', () => {
  it('prefers the provider-qualified entry, then the bare model', () => {
    expect(priceOf(table, 'azure.ai.openai', 'gpt-4o')?.inputPerMillion).toBe(2.75);
    expect(priceOf(table, 'openai', 'gpt-4o')?.inputPerMillion).toBe(2.5);
  });

  it('prices a dated snapshot as its longest known prefix', () => {
    expect(priceOf(table, 'openai', 'gpt-4o-2024-08-06')?.inputPerMillion).toBe(2.5);
    expect(priceOf(table, 'openai', 'gpt-4o-mini-2024-07-18')?.inputPerMillion).toBe(0.15);
    expect(priceOf(table, 'azure.ai.openai', 'gpt-4o-2024-08-06')?.inputPerMillion).toBe(2.75);
  });

  it('knows no model that merely starts with a key, nor an unknown one', () => {
    expect(priceOf(table, 'openai', 'gpt-4omni')).toBeUndefined();
    expect(priceOf(table, 'openai', 'gpt-9')).toBeUndefined();
    expect(priceOf(table, 'openai', '')).toBeUndefined();
  });

  it('remembers prices per provider and model without changing them', () => {
    const price = pricer(table);
    for (const model of ['gpt-4o-2024-08-06', 'gpt-9', 'gpt-4o-2024-08-06'])
      expect(price('openai', model)).toBe(priceOf(table, 'openai', model));
  });
});

describe('callCost', () => {
  it('prices input and output tokens per million', () => {
    const call = { provider: 'openai', requestModel: 'gpt-4o' };
    // 1,000 × 2.5 / 1e6 + 500 × 10 / 1e6.
    expect(callCost(table, { ...call, inputTokens: 1000, outputTokens: 500 })).toBeCloseTo(0.0075);
    expect(callCost(table, { ...call, inputTokens: 1000, outputTokens: undefined })).toBeCloseTo(
      0.0025,
    );
  });

  it('is undefined for a model without a price', () => {
    expect(
      callCost(table, { provider: 'x', requestModel: 'y', inputTokens: 1, outputTokens: 1 }),
    ).toBeUndefined();
  });
});

describe('defaultPriceTable', () => {
  it('prices the common models by their API names and snapshots', () => {
    for (const [provider, model] of [
      ['openai', 'gpt-4o-2024-08-06'],
      ['openai', 'gpt-4o-mini'],
      ['openai', 'gpt-4.1-2025-04-14'],
      ['openai', 'gpt-4.1-mini'],
      ['openai', 'o3'],
      ['openai', 'o4-mini-2025-04-16'],
      ['anthropic', 'claude-sonnet-4-5-20250929'],
      ['anthropic', 'claude-3-5-haiku-20241022'],
      ['anthropic', 'claude-opus-4-1-20250805'],
      ['gcp.gemini', 'gemini-2.5-pro'],
      ['gcp.gemini', 'gemini-2.5-flash'],
      ['gcp.gemini', 'gemini-2.0-flash-001'],
    ] as const)
      expect(priceOf(defaultPriceTable, provider, model), model).toBeDefined();
  });

  it('does not price a newer variant as an older sibling', () => {
    expect(priceOf(defaultPriceTable, 'anthropic', 'claude-opus-4-5-20251101')).toEqual({
      inputPerMillion: 5,
      outputPerMillion: 25,
    });
    expect(priceOf(defaultPriceTable, 'openai', 'o3-pro')?.inputPerMillion).toBe(20);
  });

  it('makes the small model over ten times cheaper than gpt-4o', () => {
    const call = {
      provider: 'openai',
      requestModel: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 200,
    };
    const { small } = defaultPriceTable;
    const smallCost = (1000 * small.inputPerMillion + 200 * small.outputPerMillion) / 1e6;
    expect((callCost(defaultPriceTable, call) ?? 0) / smallCost).toBeGreaterThan(10);
  });
});

describe('parsePriceTable', () => {
  it('parses a table file into a map of models', () => {
    const parsed = parsePriceTable(
      JSON.stringify({
        currency: 'EUR',
        models: { 'openai/gpt-4o': { inputPerMillion: 2.3, outputPerMillion: 9.2 } },
        small: { name: 'ours', inputPerMillion: 0.1, outputPerMillion: 0.3 },
      }),
      '/etc/prices.json',
    );
    expect(parsed.currency).toBe('EUR');
    expect(priceOf(parsed, 'openai', 'gpt-4o-2024-08-06')).toEqual({
      inputPerMillion: 2.3,
      outputPerMillion: 9.2,
    });
    expect(parsed.small).toEqual({ name: 'ours', inputPerMillion: 0.1, outputPerMillion: 0.3 });
  });

  it('names the file and every problem by its path', () => {
    const error = refusal(
      JSON.stringify({
        currency: 'usd',
        models: { 'gpt-4o': { inputPerMillion: -1, outputPerMilion: 10 } },
        small: { inputPerMillion: 0.2, outputPerMillion: '0.2' },
      }),
    );
    expect(error.code).toBe(ErrorCode.InvalidArgument);
    expect(error.message).toMatch(/^\/etc\/prices\.json is not a price table: /);
    expect(error.message).toContain('currency: must be an ISO 4217 code such as "USD"');
    expect(error.message).toMatch(/models\.gpt-4o\.inputPerMillion: Too small/);
    expect(error.message).toContain('models.gpt-4o: Unrecognized key: "outputPerMilion"');
    expect(error.message).toMatch(/small\.outputPerMillion: Invalid input: expected number/);
    expect(error.message).toMatch(/small\.name: Invalid input/);
  });

  it('refuses what is not JSON', () => {
    expect(refusal('{"currency": ').message).toBe('/etc/prices.json is not JSON');
  });
});
