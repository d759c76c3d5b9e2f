import type { Usage } from './outcome.js';

export interface ModelPrice {
  /** USD per 1M input tokens, batch price. */
  inputPerMillion: number;
  /** USD per 1M output tokens, batch price. */
  outputPerMillion: number;
}

export interface PriceTable {
  /** When these prices were recorded: prices change, and a report should say which it used. */
  asOf: string;
  source: string;
  models: Record<string, ModelPrice>;
}

/** Batch prices recorded by the field team (Dec 2025). Override with MODEL_PRICES_JSON; never edit code for a price. */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  asOf: '2025-12-01',
  source: 'field team batch prices (Groq Batch API, 50 % of on-demand)',
  models: {
    'openai/gpt-oss-20b': { inputPerMillion: 0.0375, outputPerMillion: 0.15 },
    'openai/gpt-oss-120b': { inputPerMillion: 0.075, outputPerMillion: 0.3 },
    'llama-3.3-70b-versatile': { inputPerMillion: 0.295, outputPerMillion: 0.395 },
  },
};

/** Parses MODEL_PRICES_JSON (`{"asOf": "...", "models": {"m": {"inputPerMillion": 0.1, "outputPerMillion": 0.2}}}`). */
export function priceTableFrom(json: string | undefined): PriceTable {
  if (!json) return DEFAULT_PRICE_TABLE;
  const parsed = JSON.parse(json) as Partial<PriceTable>;
  const models = { ...DEFAULT_PRICE_TABLE.models };
  for (const [model, price] of Object.entries(parsed.models ?? {})) {
    if (!(price.inputPerMillion >= 0) || !(price.outputPerMillion >= 0)) {
      throw new Error(`MODEL_PRICES_JSON: the price of ${model} needs non-negative inputPerMillion and outputPerMillion`);
    }
    models[model] = price;
  }
  return { asOf: parsed.asOf ?? DEFAULT_PRICE_TABLE.asOf, source: parsed.source ?? 'MODEL_PRICES_JSON', models };
}

export function priceOf(table: PriceTable, model: string): ModelPrice {
  const price = table.models[model];
  if (!price) throw new Error(`no price for model ${model}: add it to MODEL_PRICES_JSON`);
  return price;
}

export function costOfUsage(table: PriceTable, model: string, usage: Usage): number {
  const price = priceOf(table, model);
  return (usage.promptTokens * price.inputPerMillion + usage.completionTokens * price.outputPerMillion) / 1_000_000;
}

export function costOfBatch(table: PriceTable, model: string, usages: Iterable<Usage>): number {
  let total = 0;
  for (const usage of usages) total += costOfUsage(table, model, usage);
  return total;
}
