import { parseJsonFile, z } from '@understudy/config';

/** What a model costs, in the table's currency per million tokens. */
export interface ModelPrice {
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
}

export interface PriceTable {
  /** ISO 4217 code of every price in the table. */
  readonly currency: string;
  /** Keyed by `provider/model` or bare `model`; see `priceOf`. */
  readonly models: ReadonlyMap<string, ModelPrice>;
  /** What serving a task with a fine-tuned small model costs instead. */
  readonly small: ModelPrice & { readonly name: string };
}

const perMillion = z.number().nonnegative();
const modelPrice = z.strictObject({ inputPerMillion: perMillion, outputPerMillion: perMillion });

/**
 * A price table file (`UNDERSTUDY_CLUSTERER_PRICE_TABLE_FILE`):
 * `{ "currency": "USD", "models": { "gpt-4o": { "inputPerMillion": 2.5, "outputPerMillion": 10 },
 * "openai/o3": {…} }, "small": { "name": "…", "inputPerMillion": 0.2, "outputPerMillion": 0.2 } }`.
 * Strict, so that a misspelt key fails instead of pricing a model at nothing.
 */
export const priceTableSchema = z
  .strictObject({
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as "USD"'),
    models: z.record(z.string().min(1), modelPrice),
    small: modelPrice.extend({ name: z.string().min(1) }),
  })
  .transform(({ currency, models, small }): PriceTable => ({
    currency,
    models: new Map(Object.entries(models)),
    small,
  }));

/** Parses a price table file; `source` names it in errors, which never echo its content. */
export function parsePriceTable(json: string, source: string): PriceTable {
  return parseJsonFile(json, source, priceTableSchema, 'a price table');
}

/**
 * The price of `provider`'s `model`: the entry for `provider/model`, else for the bare model,
 * else for the longest prefix of the model that ends before a `-` (so the dated snapshot
 * `gpt-4o-2024-08-06` costs what `gpt-4o` does), provider-qualified first at each length.
 * Undefined for a model the table does not know.
 */
export function priceOf(
  table: PriceTable,
  provider: string,
  model: string,
): ModelPrice | undefined {
  for (let end = model.length; end > 0; end = model.lastIndexOf('-', end - 1)) {
    const name = model.slice(0, end);
    const price = table.models.get(`${provider}/${name}`) ?? table.models.get(name);
    if (price !== undefined) return price;
  }
  return undefined;
}

/** Token counts of one call; an absent count was not reported and costs nothing. */
export interface PricedCall {
  readonly provider: string;
  readonly requestModel: string;
  readonly inputTokens: number | undefined;
  readonly outputTokens: number | undefined;
}

/** What one call cost at the table's LLM prices; undefined when its model has no price. */
export function callCost(table: PriceTable, call: PricedCall): number | undefined {
  const price = priceOf(table, call.provider, call.requestModel);
  return price === undefined ? undefined : tokenCost(price, call);
}

/** The call's tokens at `price`. */
export function tokenCost(price: ModelPrice, call: PricedCall): number {
  return (
    ((call.inputTokens ?? 0) * price.inputPerMillion +
      (call.outputTokens ?? 0) * price.outputPerMillion) /
    1e6
  );
}

/**
 * `priceOf` remembered per provider and model, for pricing many calls: one lookup per distinct
 * model instead of a few string concatenations per call.
 */
export function pricer(
  table: PriceTable,
): (provider: string, model: string) => ModelPrice | undefined {
  const known = new Map<string, Map<string, ModelPrice | undefined>>();
  return (provider, model) => {
    let models = known.get(provider);
    if (models === undefined)
      known.set(provider, (models = new Map<string, ModelPrice | undefined>()));
    if (!models.has(model)) models.set(model, priceOf(table, provider, model));
    return models.get(model);
  };
}

/**
 * List prices in USD per million tokens as published by OpenAI, Anthropic and Google in
 * November 2025 (standard tier, no batch or cache discounts; Gemini 2.5 Pro and 3 Pro at their
 * ≤200k-token prompt rate). Prices change: deployments override the table with a file
 * (`UNDERSTUDY_CLUSTERER_PRICE_TABLE_FILE`). Variants that a shorter key would misprice by
 * prefix (`o3-pro`, `claude-opus-4-5`) are listed on their own.
 *
 * `small` is a fine-tuned 8B-class model. Its price is what serverless hosts charged for such
 * models in 2025 (Together's Llama 3.1 8B Turbo at 0.18, Fireworks' 4–16B tier at 0.20, input and
 * output alike); a self-hosted GPU at moderate utilisation amortises to the same range. That is
 * 12–50× below gpt-4o and 15–75× below Claude Sonnet, in line with the 10–30× lower inference cost
 * Belcak et al. (2025, "Small Language Models are the Future of Agentic AI") cite, and above
 * gpt-4o-mini's input price: cheap LLMs are not made to look like savings.
 */
export const defaultPriceTable: PriceTable = priceTableSchema.parse({
  currency: 'USD',
  models: {
    'gpt-5': { inputPerMillion: 1.25, outputPerMillion: 10 },
    'gpt-5.1': { inputPerMillion: 1.25, outputPerMillion: 10 },
    'gpt-5-mini': { inputPerMillion: 0.25, outputPerMillion: 2 },
    'gpt-5-nano': { inputPerMillion: 0.05, outputPerMillion: 0.4 },
    'gpt-4.1': { inputPerMillion: 2, outputPerMillion: 8 },
    'gpt-4.1-mini': { inputPerMillion: 0.4, outputPerMillion: 1.6 },
    'gpt-4.1-nano': { inputPerMillion: 0.1, outputPerMillion: 0.4 },
    'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10 },
    'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
    o3: { inputPerMillion: 2, outputPerMillion: 8 },
    'o3-pro': { inputPerMillion: 20, outputPerMillion: 80 },
    'o3-mini': { inputPerMillion: 1.1, outputPerMillion: 4.4 },
    'o4-mini': { inputPerMillion: 1.1, outputPerMillion: 4.4 },
    'claude-opus-4-5': { inputPerMillion: 5, outputPerMillion: 25 },
    'claude-opus-4-1': { inputPerMillion: 15, outputPerMillion: 75 },
    'claude-opus-4': { inputPerMillion: 15, outputPerMillion: 75 },
    'claude-3-opus': { inputPerMillion: 15, outputPerMillion: 75 },
    'claude-sonnet-4-5': { inputPerMillion: 3, outputPerMillion: 15 },
    'claude-sonnet-4': { inputPerMillion: 3, outputPerMillion: 15 },
    'claude-3-7-sonnet': { inputPerMillion: 3, outputPerMillion: 15 },
    'claude-3-5-sonnet': { inputPerMillion: 3, outputPerMillion: 15 },
    'claude-haiku-4-5': { inputPerMillion: 1, outputPerMillion: 5 },
    'claude-3-5-haiku': { inputPerMillion: 0.8, outputPerMillion: 4 },
    'claude-3-haiku': { inputPerMillion: 0.25, outputPerMillion: 1.25 },
    'gemini-3-pro': { inputPerMillion: 2, outputPerMillion: 12 },
    'gemini-2.5-pro': { inputPerMillion: 1.25, outputPerMillion: 10 },
    'gemini-2.5-flash': { inputPerMillion: 0.3, outputPerMillion: 2.5 },
    'gemini-2.5-flash-lite': { inputPerMillion: 0.1, outputPerMillion: 0.4 },
    'gemini-2.0-flash': { inputPerMillion: 0.1, outputPerMillion: 0.4 },
    'gemini-2.0-flash-lite': { inputPerMillion: 0.075, outputPerMillion: 0.3 },
  },
  small: { name: 'fine-tuned 8B-class model', inputPerMillion: 0.2, outputPerMillion: 0.2 },
});
