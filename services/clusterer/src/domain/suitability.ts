import type { MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromMs } from '@bufbuild/protobuf/wkt';
import type {
  SavingsEstimateSchema,
  SuitabilityScoresSchema,
  TaskProfileSchema,
} from '@understudy/contracts';
import { pricer, tokenCost, type PriceTable, type PricedCall } from './prices.js';

/**
 * How well a task suits a fine-tuned small model, and what serving it with one would save,
 * from one linear pass over its calls in the clusterer's window (a sort of their latencies
 * aside), so that re-clustering can assess every task of a large window.
 */

export interface TaskCall extends PricedCall {
  readonly latencyMs: number | undefined;
  readonly failed: boolean;
  readonly contentCaptured: boolean;
  /** Hash of the embedded input; '' without content. */
  readonly contentHash: string;
  /** Cosine similarity to the task's centroid; undefined without an embedding. */
  readonly similarity: number | undefined;
  /** The answer's form; undefined without content or answer. */
  readonly output:
    { readonly json: boolean; readonly toolCall: boolean; readonly digest: string } | undefined;
  /** When the call started, in ms since the epoch: what puts it in the window. */
  readonly startMs: number;
}

export interface ProfileContext {
  readonly prices: PriceTable;
  /** The clusterer's window, which the calls are from. */
  readonly window: { readonly startMs: number; readonly endMs: number };
  /** All of the tenant's calls in the window, and their cost (`tenantCost`). */
  readonly tenant: { readonly calls: number; readonly cost: number };
  /** The task's signature demands JSON output. */
  readonly responseFormatDemanded: boolean;
}

export interface TaskAssessment {
  readonly profile: MessageInitShape<typeof TaskProfileSchema>;
  readonly suitability: MessageInitShape<typeof SuitabilityScoresSchema>;
  readonly savings: MessageInitShape<typeof SavingsEstimateSchema>;
  /** The task's LLM spend in the window, at the table's prices. */
  readonly costInWindow: number;
}

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;
const monthMs = 30 * dayMs;

/**
 * Volume saturates on a log scale between these counts of calls with content that succeeded:
 * below `fewExamples` there is not even a held-out set (0); `enoughExamples` is a comfortable
 * fine-tuning set for a narrow task with a tenth left to evaluate on (1); 100 score 0.5.
 */
const fewExamples = 10;
const enoughExamples = 1_000;

/**
 * Weights of the overall score, a weighted geometric mean, so that a task failing one test
 * (nothing to train on, every call failing) scores 0 however well it does on the others.
 * Homogeneity and output consistency weigh most: they are the evidence that a small model can
 * learn the mapping (narrow, repetitive, structured work is what the small models match LLMs
 * on). Volume and success rate count once: volume grows by waiting, and failures hurt
 * evaluation but may be the caller's. Coverage counts half, as volume already counts captured
 * calls; it adds that uncaptured traffic cannot be checked when routed.
 */
const weights = {
  volume: 1,
  homogeneity: 2,
  outputConsistency: 2,
  contentCoverage: 0.5,
  successRate: 1,
} as const;

/**
 * Parts of output consistency, averaged over those known: agreement on repeated inputs is the
 * direct evidence of alike answers for alike inputs; a structured (JSON or tool) answer bounds
 * what the model must produce; stable answer length says less, as length follows input.
 */
const consistencyWeights = { agreement: 0.5, structure: 0.3, length: 0.2 } as const;

/** What a score is taken as when nothing measures it: neither evidence for nor against. */
const neutral = 0.5;

/** What the tenant's calls cost at the table's prices, priced as `profileTask` prices a task's. */
export function tenantCost(calls: readonly PricedCall[], prices: PriceTable): number {
  const price = pricer(prices);
  let cost = 0;
  for (const call of calls) {
    const known = price(call.provider, call.requestModel);
    if (known !== undefined) cost += tokenCost(known, call);
  }
  return cost;
}

/**
 * Profiles a task's calls in the window, scores its suitability and estimates its savings.
 * Per-month figures scale the window's spend by 30 days over the window's length. There is no
 * floor on that length: the figures are, as the contract says, at the observed rate, and the
 * window is the clusterer's configured period (minutes in the end-to-end test). A window under
 * a day gets a reason instead, as a short sample extrapolates noisily; current and projected
 * cost scale alike, so rankings and the saved share do not depend on it.
 */
export function profileTask(calls: readonly TaskCall[], context: ProfileContext): TaskAssessment {
  const { window, tenant, prices } = context;
  const t = tally(calls, prices);
  const f = figures(t);
  const perMonth = monthMs / Math.max(1, window.endMs - window.startMs);
  const reasons: string[] = [];
  const scores = {
    volume: volumeScore(t, reasons),
    homogeneity: homogeneityScore(t, f, reasons),
    outputConsistency: consistencyScore(t, f, context.responseFormatDemanded, reasons),
    contentCoverage: coverageScore(t, reasons),
    successRate: successScore(t, f, reasons),
  };
  const savings = estimate(t, context, perMonth, reasons);
  return {
    profile: {
      window: {
        startTime: timestampFromMs(window.startMs),
        endTime: timestampFromMs(window.endMs),
      },
      windowCalls: BigInt(t.calls),
      shareOfCalls: ratio(t.calls, tenant.calls),
      shareOfSpend: ratio(t.cost, tenant.cost),
      meanInputTokens: ratio(t.inputTokens, t.withInputTokens),
      meanOutputTokens: f.meanOutputTokens,
      jsonOutputShare: ratio(t.json, t.answered),
      toolCallShare: ratio(t.toolCalls, t.answered),
      repeatedInputShare: ratio(f.repeated, t.captured),
      outputAgreement: f.outputAgreement,
      outputLengthVariation: f.outputLengthVariation,
      meanSimilarity: f.meanSimilarity,
      errorShare: f.errorShare,
      tenantWindowCalls: BigInt(tenant.calls),
      tenantCostPerMonth: tenant.cost * perMonth,
    },
    suitability: {
      overall: geometricMean(scores),
      ...scores,
      // With no calls, every other reason would restate this one.
      reasons: t.calls === 0 ? ['no calls in the window'] : reasons,
    },
    savings,
    costInWindow: t.cost,
  };
}

/**
 * Successful calls with content, on a log scale: 0 below `fewExamples`, 1 from
 * `enoughExamples`.
 */
function volumeScore(t: Tally, reasons: string[]): number {
  const score = clamp(Math.log(t.examples / fewExamples) / Math.log(enoughExamples / fewExamples));
  if (score < 0.5)
    reasons.push(
      `${t.examples} successful calls with content to learn from; about ${enoughExamples} make a solid training set`,
    );
  else if (score === 1) reasons.push(`${t.examples} successful calls with content to learn from`);
  return score;
}

/**
 * The mean cosine similarity to the centroid itself, with no calibration per embedding model
 * assumed; neutral without embeddings, as content coverage and volume already count their lack.
 */
function homogeneityScore(t: Tally, f: Figures, reasons: string[]): number {
  if (t.withSimilarity === 0) {
    reasons.push('no embeddings: input homogeneity unknown, scored neutral');
    return neutral;
  }
  if (f.meanSimilarity >= 0.8)
    reasons.push(`inputs cluster tightly (mean similarity ${f.meanSimilarity.toFixed(2)})`);
  else if (f.meanSimilarity < 0.5)
    reasons.push(`inputs vary widely (mean similarity ${f.meanSimilarity.toFixed(2)})`);
  return clamp(f.meanSimilarity);
}

/**
 * Agreement on repeated inputs, the structured share of answers (or 1 where the signature
 * demands JSON and no answer was seen) and 1 / (1 + length variation), averaged by
 * `consistencyWeights` over those known; neutral when none is.
 */
function consistencyScore(t: Tally, f: Figures, jsonDemanded: boolean, reasons: string[]): number {
  let structure: number | undefined;
  if (t.answered > 0) {
    structure = ratio(t.structured, t.answered);
    if (structure >= 0.9) reasons.push(`${percent(structure)} of answers are JSON or tool calls`);
    else if (structure < 0.1) reasons.push('answers are free text');
  } else if (jsonDemanded) {
    structure = 1;
    reasons.push('the calls demand JSON output');
  }
  if (f.outputAgreement !== undefined && f.outputAgreement >= 0.9)
    reasons.push(`repeated inputs get the same answer ${percent(f.outputAgreement)} of the time`);
  else if (f.outputAgreement !== undefined && f.outputAgreement < 0.5)
    reasons.push(`repeated inputs get differing answers (${percent(f.outputAgreement)} agree)`);
  if (f.outputLengthVariation >= 1)
    reasons.push(`answer length varies widely (${f.outputLengthVariation.toFixed(1)}× its mean)`);
  const score = weightedMean([
    [consistencyWeights.agreement, f.outputAgreement],
    [consistencyWeights.structure, structure],
    [
      consistencyWeights.length,
      t.withOutputTokens >= 2 ? 1 / (1 + f.outputLengthVariation) : undefined,
    ],
  ]);
  if (score === undefined) reasons.push('no answers to judge consistency by, scored neutral');
  return score ?? neutral;
}

function coverageScore(t: Tally, reasons: string[]): number {
  const score = ratio(t.captured, t.calls);
  if (t.captured === 0) reasons.push('no call content captured');
  else if (score < 0.5) reasons.push(`content captured for only ${percent(score)} of calls`);
  return score;
}

function successScore(t: Tally, f: Figures, reasons: string[]): number {
  if (f.errorShare >= 0.05) reasons.push(`${percent(f.errorShare)} of calls failed`);
  return t.calls > 0 ? 1 - f.errorShare : 0;
}

/**
 * The LLM spend per month at the table's prices, and the same calls' tokens at the small
 * model's: both over the calls that have a price, so that an unknown model neither inflates
 * nor hides a saving. The saving is never negative.
 */
function estimate(
  t: Tally,
  { prices, window }: ProfileContext,
  perMonth: number,
  reasons: string[],
): MessageInitShape<typeof SavingsEstimateSchema> {
  const current = t.cost * perMonth;
  const projected = t.projected * perMonth;
  for (const [provider, models] of [...t.unpriced].sort(byKey))
    for (const [model, count] of [...models].sort(byKey))
      reasons.push(`no price for ${provider}/${model}: ${count} calls not costed`);
  if (t.untokened > 0) reasons.push(`${t.untokened} calls reported no token counts: not costed`);
  if (projected > current)
    reasons.push(
      `the LLM already costs less than the small model (${prices.small.name}) would: ${money(current, prices)} vs ${money(projected, prices)} a month, no saving`,
    );
  const windowMs = window.endMs - window.startMs;
  if (windowMs < dayMs)
    reasons.push(
      `measured over ${Number((windowMs / hourMs).toPrecision(2))} h: monthly figures extrapolate a short window`,
    );
  return {
    currency: prices.currency,
    currentCostPerMonth: current,
    projectedCostPerMonth: projected,
    savingsPerMonth: Math.max(0, current - projected),
    ...(t.latencies.length > 0 && {
      currentLatencyP50: durationFromMs(percentile(t.latencies, 0.5)),
      currentLatencyP95: durationFromMs(percentile(t.latencies, 0.95)),
    }),
  };
}

/** Counts and sums from one pass over the calls. */
interface Tally {
  calls: number;
  failed: number;
  captured: number;
  /** Successful calls with content: what a dataset can be built from. */
  examples: number;
  /** Captured calls with an answer shape, and those whose answer is JSON, a tool call, either. */
  answered: number;
  json: number;
  toolCalls: number;
  structured: number;
  withInputTokens: number;
  inputTokens: number;
  /** Output tokens of successful calls: failures' outputs are not answers. */
  withOutputTokens: number;
  outputTokens: number;
  outputTokenSquares: number;
  withSimilarity: number;
  similarity: number;
  /** LLM cost, and the same calls' tokens at the small model's prices. */
  cost: number;
  projected: number;
  /** Calls whose model has no price, by provider and model. */
  unpriced: Map<string, Map<string, number>>;
  untokened: number;
  /**
   * Latencies of successful calls (a failure's time says nothing of answering), ascending once
   * tallied.
   */
  latencies: Float64Array;
  latencyCount: number;
  /** Captured calls with a content hash. */
  hashed: number;
  /** Each input's first answer digest ('' for none), by content hash. */
  firstAnswers: Map<string, string>;
  /**
   * The answer digests' counts of inputs seen more than once: a Map per repeated input only,
   * so that a window of distinct inputs costs one entry per call.
   */
  repeatedAnswers: Map<string, Map<string, number>>;
}

function tally(calls: readonly TaskCall[], prices: PriceTable): Tally {
  const price = pricer(prices);
  const t: Tally = {
    calls: 0,
    failed: 0,
    captured: 0,
    examples: 0,
    answered: 0,
    json: 0,
    toolCalls: 0,
    structured: 0,
    withInputTokens: 0,
    inputTokens: 0,
    withOutputTokens: 0,
    outputTokens: 0,
    outputTokenSquares: 0,
    withSimilarity: 0,
    similarity: 0,
    cost: 0,
    projected: 0,
    unpriced: new Map(),
    untokened: 0,
    hashed: 0,
    firstAnswers: new Map(),
    repeatedAnswers: new Map(),
    latencies: new Float64Array(calls.length),
    latencyCount: 0,
  };
  for (const call of calls) {
    t.calls++;
    if (call.failed) t.failed++;
    if (call.contentCaptured) {
      t.captured++;
      if (!call.failed) t.examples++;
      if (call.contentHash !== '') recordAnswer(t, call.contentHash, call.output?.digest ?? '');
    }
    if (call.output !== undefined) {
      t.answered++;
      if (call.output.json) t.json++;
      if (call.output.toolCall) t.toolCalls++;
      if (call.output.json || call.output.toolCall) t.structured++;
    }
    if (call.inputTokens !== undefined) {
      t.withInputTokens++;
      t.inputTokens += call.inputTokens;
    }
    if (call.outputTokens !== undefined && !call.failed) {
      t.withOutputTokens++;
      t.outputTokens += call.outputTokens;
      t.outputTokenSquares += call.outputTokens ** 2;
    }
    if (call.similarity !== undefined) {
      t.withSimilarity++;
      t.similarity += call.similarity;
    }
    if (call.inputTokens === undefined && call.outputTokens === undefined) t.untokened++;
    else {
      const known = price(call.provider, call.requestModel);
      if (known === undefined) {
        let models = t.unpriced.get(call.provider);
        if (models === undefined)
          t.unpriced.set(call.provider, (models = new Map<string, number>()));
        increment(models, call.requestModel);
      } else {
        t.cost += tokenCost(known, call);
        t.projected += tokenCost(prices.small, call);
      }
    }
    if (call.latencyMs !== undefined && !call.failed)
      t.latencies[t.latencyCount++] = call.latencyMs;
  }
  t.latencies = t.latencies.subarray(0, t.latencyCount).sort();
  return t;
}

/** The profile's derived figures. */
interface Figures {
  readonly meanSimilarity: number;
  readonly meanOutputTokens: number;
  /** Standard deviation of output tokens over their mean. */
  readonly outputLengthVariation: number;
  readonly errorShare: number;
  /** Captured calls whose input repeats an earlier one's. */
  readonly repeated: number;
  /**
   * Over inputs answered more than once: the share of their answers equal to the input's most
   * common answer. Undefined when none is.
   */
  readonly outputAgreement: number | undefined;
}

function figures(t: Tally): Figures {
  const meanOutputTokens = ratio(t.outputTokens, t.withOutputTokens);
  const variance = ratio(t.outputTokenSquares, t.withOutputTokens) - meanOutputTokens ** 2;
  const { agreeing, repeatAnswers } = agreement(t.repeatedAnswers);
  return {
    meanSimilarity: ratio(t.similarity, t.withSimilarity),
    meanOutputTokens,
    // Rounding can leave a constant length's variance a hair below 0.
    outputLengthVariation: ratio(Math.sqrt(Math.max(0, variance)), meanOutputTokens),
    errorShare: ratio(t.failed, t.calls),
    repeated: t.hashed - t.firstAnswers.size,
    outputAgreement: repeatAnswers > 0 ? agreeing / repeatAnswers : undefined,
  };
}

function recordAnswer(t: Tally, input: string, digest: string): void {
  t.hashed++;
  const first = t.firstAnswers.get(input);
  if (first === undefined) {
    t.firstAnswers.set(input, digest);
    return;
  }
  let answers = t.repeatedAnswers.get(input);
  if (answers === undefined) t.repeatedAnswers.set(input, (answers = new Map([[first, 1]])));
  increment(answers, digest);
}

/**
 * Over inputs answered more than once: how many answers equal their input's most common
 * answer, out of how many.
 */
function agreement(repeatedAnswers: Tally['repeatedAnswers']): {
  agreeing: number;
  repeatAnswers: number;
} {
  let agreeing = 0;
  let repeatAnswers = 0;
  for (const answers of repeatedAnswers.values()) {
    let answered = 0;
    let top = 0;
    for (const [digest, count] of answers) {
      if (digest === '') continue;
      answered += count;
      top = Math.max(top, count);
    }
    if (answered >= 2) {
      agreeing += top;
      repeatAnswers += answered;
    }
  }
  return { agreeing, repeatAnswers };
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** The nearest-rank q-quantile of ascending `sorted` (not empty). */
function percentile(sorted: Float64Array, q: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}

/** Σ wᵢ·sᵢ / Σ wᵢ over the parts known; undefined when none is. */
function weightedMean(
  parts: readonly (readonly [number, number | undefined])[],
): number | undefined {
  let sum = 0;
  let weight = 0;
  for (const [w, score] of parts) {
    if (score === undefined) continue;
    sum += w * score;
    weight += w;
  }
  return weight > 0 ? sum / weight : undefined;
}

/** exp(Σ wᵢ·ln sᵢ / Σ wᵢ): 0 when any score is 0. */
function geometricMean(scores: Record<keyof typeof weights, number>): number {
  let sum = 0;
  let weight = 0;
  for (const [name, w] of Object.entries(weights)) {
    sum += w * Math.log(scores[name as keyof typeof weights]);
    weight += w;
  }
  return Math.exp(sum / weight);
}

/** `part / whole`, 0 for an empty whole. */
function ratio(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function clamp(value: number): number {
  return Math.min(1, Math.max(0, value));
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function money(amount: number, prices: PriceTable): string {
  return `${amount.toFixed(2)} ${prices.currency}`;
}

function byKey([a]: readonly [string, unknown], [b]: readonly [string, unknown]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
