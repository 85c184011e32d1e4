import { create } from '@bufbuild/protobuf';
import { durationMs, type Duration } from '@bufbuild/protobuf/wkt';
import { SavingsEstimateSchema, TaskProfileSchema } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { priceTableSchema } from './prices.js';
import { profileTask, tenantCost, type ProfileContext, type TaskCall } from './suitability.js';

const dayMs = 86_400_000;

// Round numbers for arithmetic by hand: a call of 1,000 input and 500 output tokens costs
// 0.01 + 0.01 = 0.02 on `m` and 0.001 + 0.001 = 0.002 on the small model.
const prices = priceTableSchema.parse({
  currency: 'USD',
  models: {
    m: { inputPerMillion: 10, outputPerMillion: 20 },
    cheap: { inputPerMillion: 0.1, outputPerMillion: 0.1 },
  },
  small: { name: 'tiny', inputPerMillion: 1, outputPerMillion: 2 },
});

const context: ProfileContext = {
  prices,
  window: { startMs: 0, endMs: dayMs },
  tenant: { calls: 0, cost: 0 },
  responseFormatDemanded: false,
};

function call(overrides: Partial<TaskCall> = {}): TaskCall {
  return {
    provider: 'openai',
    requestModel: 'm',
    inputTokens: 1000,
    outputTokens: 500,
    latencyMs: 800,
    failed: false,
    contentCaptured: true,
    contentHash: '',
    similarity: 0.9,
    output: { json: true, toolCall: false, digest: '' },
    startMs: 0,
    ...overrides,
  };
}

const times = <T>(count: number, make: (i: number) => T): T[] =>
  Array.from({ length: count }, (_, i) => make(i));

const latencies = (calls: readonly TaskCall[]) => {
  const savings = create(SavingsEstimateSchema, profileTask(calls, context).savings);
  const ms = (duration: Duration | undefined) =>
    duration === undefined ? undefined : durationMs(duration);
  return [ms(savings.currentLatencyP50), ms(savings.currentLatencyP95)];
};

/** Every number in a message is finite: no NaN from an empty denominator. */
function expectFinite(value: unknown): void {
  if (typeof value === 'number') expect(Number.isFinite(value)).toBe(true);
  else if (typeof value === 'object' && value !== null) Object.values(value).forEach(expectFinite);
}

describe('profileTask', () => {
  // 1,000 calls over 200 inputs seen five times each, always answered alike, in JSON.
  const extraction = times(1000, (i) =>
    call({
      contentHash: `in${i % 200}`,
      output: { json: true, toolCall: false, digest: `out${i % 200}` },
      outputTokens: 90 + (i % 21),
      similarity: 0.88 + (i % 5) * 0.01,
    }),
  );
  // 1,000 calls of chit-chat: a few greetings repeat with differing answers of any length.
  const chat = times(1000, (i) =>
    call({
      contentHash: i < 300 ? `hello${i % 100}` : `chat${i}`,
      output: { json: false, toolCall: false, digest: `reply${i}` },
      outputTokens: 20 + ((i * 37) % 600),
      similarity: 0.4 + (i % 5) * 0.02,
    }),
  );

  it('scores a repetitive JSON extraction above varied chit-chat', () => {
    const a = profileTask(extraction, context).suitability;
    const b = profileTask(chat, context).suitability;
    expect(a.overall).toBeGreaterThan(0.9);
    expect(b.overall).toBeLessThan(0.65);
    expect(a.homogeneity).toBeGreaterThan(b.homogeneity ?? 1);
    expect(a.outputConsistency).toBeGreaterThan(0.95);
    expect(b.outputConsistency).toBeLessThan(0.4);
    expect(a.reasons).toEqual([
      '1000 successful calls with content to learn from',
      'inputs cluster tightly (mean similarity 0.90)',
      '100% of answers are JSON or tool calls',
      'repeated inputs get the same answer 100% of the time',
    ]);
    expect(b.reasons).toEqual([
      '1000 successful calls with content to learn from',
      'inputs vary widely (mean similarity 0.44)',
      'answers are free text',
      'repeated inputs get differing answers (33% agree)',
    ]);
  });

  it('profiles repetition, agreement and output shape', () => {
    const profile = create(TaskProfileSchema, profileTask(extraction, context).profile);
    expect(profile.repeatedInputShare).toBeCloseTo(0.8); // 800 of 1,000 repeat an earlier input
    expect(profile.outputAgreement).toBe(1);
    expect(profile.jsonOutputShare).toBe(1);
    expect(profile.toolCallShare).toBe(0);
    // 47 cycles of 90…110 and 90…102: a mean of 99.948, a standard deviation of 6.048.
    expect(profile.meanOutputTokens).toBeCloseTo(99.948, 3);
    expect(profile.outputLengthVariation).toBeCloseTo(0.0605, 4);
    expect(profile.meanSimilarity).toBeCloseTo(0.9);
    expect(profile.windowCalls).toBe(1000n);
  });

  it('measures agreement over inputs answered more than once', () => {
    const answered = (hash: string, digest: string) =>
      call({ contentHash: hash, output: { json: false, toolCall: false, digest } });
    const profile = profileTask(
      [
        answered('a', 'x'),
        answered('a', 'x'),
        answered('a', 'y'),
        answered('b', 'x'),
        // b's second call failed: b has one answer, which agrees with nothing.
        call({ contentHash: 'b', failed: true, output: undefined }),
        answered('c', 'z'),
        call({ contentCaptured: false, output: undefined }),
      ],
      context,
    ).profile;
    expect(profile.repeatedInputShare).toBeCloseTo(3 / 6);
    expect(profile.outputAgreement).toBeCloseTo(2 / 3);
    expect(profile.errorShare).toBeCloseTo(1 / 7);
  });

  it('leaves agreement unset when no input repeats', () => {
    const profile = profileTask(
      times(3, (i) => call({ contentHash: `in${i}` })),
      context,
    ).profile;
    expect(profile.outputAgreement).toBeUndefined();
    expect(profile.repeatedInputShare).toBe(0);
  });

  it('estimates savings at the observed rate, with shares of the tenant', () => {
    const calls = times(3, () => call());
    const assessment = profileTask(calls, { ...context, tenant: { calls: 6, cost: 0.12 } });
    // 3 × 0.02 a day for 30 days, against 3 × 0.002.
    expect(assessment.costInWindow).toBeCloseTo(0.06);
    expect(assessment.savings).toMatchObject({ currency: 'USD' });
    expect(assessment.savings.currentCostPerMonth).toBeCloseTo(1.8);
    expect(assessment.savings.projectedCostPerMonth).toBeCloseTo(0.18);
    expect(assessment.savings.savingsPerMonth).toBeCloseTo(1.62);
    expect(assessment.profile.shareOfCalls).toBe(0.5);
    expect(assessment.profile.shareOfSpend).toBeCloseTo(0.5);
    expect(assessment.profile.tenantCostPerMonth).toBeCloseTo(3.6);
    expect(assessment.profile.meanInputTokens).toBe(1000);
    expect(tenantCost(calls, prices)).toBeCloseTo(assessment.costInWindow);
  });

  it('extrapolates a short window and says so', () => {
    const assessment = profileTask([call()], {
      ...context,
      window: { startMs: 0, endMs: 10 * 60_000 },
    });
    // 0.02 in 10 minutes is 0.02 × 6 × 24 × 30 a month.
    expect(assessment.savings.currentCostPerMonth).toBeCloseTo(86.4);
    expect(assessment.suitability.reasons).toContain(
      'measured over 0.17 h: monthly figures extrapolate a short window',
    );
  });

  it('costs a model without a price at nothing and names it', () => {
    const assessment = profileTask(
      [call(), call({ requestModel: 'gpt-9' }), call({ requestModel: 'gpt-9' })],
      context,
    );
    expect(assessment.costInWindow).toBeCloseTo(0.02);
    // Projected over the priced call only, or the unknown model would hide the saving.
    expect(assessment.savings.projectedCostPerMonth).toBeCloseTo(0.06);
    expect(assessment.suitability.reasons).toContain(
      'no price for openai/gpt-9: 2 calls not costed',
    );
    expect(tenantCost([call({ requestModel: 'gpt-9' })], prices)).toBe(0);
  });

  it('never projects a negative saving', () => {
    const assessment = profileTask(
      times(3, () => call({ requestModel: 'cheap' })),
      context,
    );
    // 3 × 1,500 tokens × 0.1 per million a day, against 3 × 0.002.
    expect(assessment.savings.currentCostPerMonth).toBeCloseTo(0.0135, 6);
    expect(assessment.savings.projectedCostPerMonth).toBeCloseTo(0.18);
    expect(assessment.savings.savingsPerMonth).toBe(0);
    expect(assessment.suitability.reasons).toContain(
      'the LLM already costs less than the small model (tiny) would: 0.01 USD vs 0.18 USD a month, no saving',
    );
  });

  it('takes nearest-rank latency percentiles over successful calls', () => {
    const calls = [
      ...times(100, (i) => call({ latencyMs: 100 - i })),
      call({ latencyMs: 60_000, failed: true }),
      call({ latencyMs: undefined }),
    ];
    expect(latencies(calls)).toEqual([50, 95]);
    expect(latencies([call({ latencyMs: 1234.5 })])).toEqual([1235, 1235]);
    expect(latencies([call({ latencyMs: undefined })])).toEqual([undefined, undefined]);
  });

  it('sinks the overall score when every call failed', () => {
    const suitability = profileTask(
      extraction.map((c) => ({ ...c, failed: true })),
      context,
    ).suitability;
    expect(suitability.successRate).toBe(0);
    expect(suitability.volume).toBe(0);
    expect(suitability.overall).toBe(0);
    expect(suitability.reasons).toContain('100% of calls failed');
  });

  it('scores volume on a log scale from 10 to 1,000 examples', () => {
    const volume = (count: number) =>
      profileTask(
        times(count, () => call()),
        context,
      ).suitability.volume;
    expect(volume(10)).toBe(0);
    expect(volume(100)).toBeCloseTo(0.5);
    expect(volume(50)).toBeCloseTo(0.35, 2);
    expect(volume(5000)).toBe(1);
  });

  it('is neutral on what it cannot measure', () => {
    const calls = times(200, () =>
      call({
        contentCaptured: false,
        similarity: undefined,
        output: undefined,
        outputTokens: undefined,
      }),
    );
    const suitability = profileTask(calls, context).suitability;
    expect(suitability.homogeneity).toBe(0.5);
    expect(suitability.outputConsistency).toBe(0.5);
    expect(suitability.contentCoverage).toBe(0);
    expect(suitability.overall).toBe(0);
    expect(suitability.reasons).toEqual([
      '0 successful calls with content to learn from; about 1000 make a solid training set',
      'no embeddings: input homogeneity unknown, scored neutral',
      'no answers to judge consistency by, scored neutral',
      'no call content captured',
    ]);
    const demanded = profileTask(calls, { ...context, responseFormatDemanded: true }).suitability;
    expect(demanded.outputConsistency).toBe(1);
    expect(demanded.reasons).toContain('the calls demand JSON output');
  });

  it('handles calls without token counts', () => {
    const assessment = profileTask(
      times(2, () => call({ inputTokens: undefined, outputTokens: undefined })),
      context,
    );
    expect(assessment.costInWindow).toBe(0);
    expect(assessment.savings.currentCostPerMonth).toBe(0);
    expect(assessment.profile.meanInputTokens).toBe(0);
    expect(assessment.suitability.reasons).toContain(
      '2 calls reported no token counts: not costed',
    );
    expectFinite(assessment);
  });

  it('profiles a single call', () => {
    const { profile, suitability } = profileTask([call({ contentHash: 'a' })], context);
    expect(profile.outputLengthVariation).toBe(0);
    expect(profile.outputAgreement).toBeUndefined();
    // Structure alone: one JSON answer.
    expect(suitability.outputConsistency).toBe(1);
    expect(suitability.volume).toBe(0);
    expect(suitability.overall).toBe(0);
  });

  it('profiles an empty window with zeros and one reason', () => {
    const assessment = profileTask([], { ...context, tenant: { calls: 10, cost: 1 } });
    expectFinite(assessment);
    expect(assessment.suitability.overall).toBe(0);
    expect(assessment.suitability.reasons).toEqual(['no calls in the window']);
    expect(assessment.profile.shareOfCalls).toBe(0);
    expect(assessment.savings.currentLatencyP50).toBeUndefined();
  });
});
