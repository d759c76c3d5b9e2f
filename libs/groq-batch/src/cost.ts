import { type FailedOutcome, OUR_CODES, type Usage } from './outcome.js';

export interface ModelPrice {
  /** USD per 1M input tokens, batch price. */
  inputPerMillion: number;
  /** USD per 1M output tokens, batch price. */
  outputPerMillion: number;
  /** When this price was recorded, if it differs from the table's date. */
  asOf?: string;
}

export interface PriceTable {
  /** When these prices were recorded (YYYY-MM-DD): prices change, and a report says which it used. */
  asOf: string;
  source: string;
  models: Record<string, ModelPrice>;
}

/**
 * Batch prices, per provider and model id (a plain name is Groq's, others are `provider:model`): Groq's
 * recorded by the field team (Dec 2025), OpenAI's and Anthropic's from their published list prices
 * (Oct 2025) at their batch discount, 50 % on both. Prices live in configuration: override or extend
 * them with MODEL_PRICES_JSON, never by editing code.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  asOf: '2025-12-01',
  source: 'Groq: field team batch prices (50 % of on-demand); OpenAI and Anthropic: published list prices at their 50 % batch discount',
  models: {
    'openai/gpt-oss-20b': { inputPerMillion: 0.0375, outputPerMillion: 0.15 },
    'openai/gpt-oss-120b': { inputPerMillion: 0.075, outputPerMillion: 0.3 },
    'llama-3.3-70b-versatile': { inputPerMillion: 0.295, outputPerMillion: 0.395 },
    'openai:gpt-4o-mini': { inputPerMillion: 0.075, outputPerMillion: 0.3, asOf: '2025-10-01' },
    'openai:gpt-4.1-nano': { inputPerMillion: 0.05, outputPerMillion: 0.2, asOf: '2025-10-01' },
    'openai:gpt-4.1-mini': { inputPerMillion: 0.2, outputPerMillion: 0.8, asOf: '2025-10-01' },
    'openai:gpt-4.1': { inputPerMillion: 1, outputPerMillion: 4, asOf: '2025-10-01' },
    'openai:gpt-4o': { inputPerMillion: 1.25, outputPerMillion: 5, asOf: '2025-10-01' },
    'anthropic:claude-haiku-4-5': { inputPerMillion: 0.5, outputPerMillion: 2.5, asOf: '2025-10-01' },
    'anthropic:claude-sonnet-4-5': { inputPerMillion: 1.5, outputPerMillion: 7.5, asOf: '2025-10-01' },
    'anthropic:claude-opus-4-1': { inputPerMillion: 7.5, outputPerMillion: 37.5, asOf: '2025-10-01' },
  },
};

export class UnknownModelPriceError extends Error {
  constructor(
    readonly model: string,
    known: readonly string[],
  ) {
    super(`no price for model ${model} (priced: ${known.join(', ') || 'none'}): add it to MODEL_PRICES_JSON`);
    this.name = 'UnknownModelPriceError';
  }
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The price table from MODEL_PRICES_JSON, merged over the defaults:
 * `{"asOf": "2026-11-01", "models": {"openai/gpt-oss-20b": {"inputPerMillion": 0.0375, "outputPerMillion": 0.15}}}`.
 */
export function priceTableFrom(json: string | undefined, variable = 'MODEL_PRICES_JSON'): PriceTable {
  if (!json || json.trim() === '') return DEFAULT_PRICE_TABLE;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`${variable} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${variable} must be a JSON object with "models"`);
  const given = parsed as { asOf?: unknown; source?: unknown; models?: unknown };
  if (given.asOf !== undefined && (typeof given.asOf !== 'string' || !DATE.test(given.asOf))) {
    throw new Error(`${variable}: asOf must be a date as YYYY-MM-DD`);
  }
  if (typeof given.models !== 'object' || given.models === null || Array.isArray(given.models)) {
    throw new Error(`${variable}: "models" must map model names to {inputPerMillion, outputPerMillion}`);
  }
  const models = { ...DEFAULT_PRICE_TABLE.models };
  for (const [model, price] of Object.entries(given.models as Record<string, unknown>)) {
    const p = price as Partial<ModelPrice> | null;
    const valid = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;
    if (!p || !valid(p.inputPerMillion) || !valid(p.outputPerMillion)) {
      throw new Error(`${variable}: the price of ${model} needs non-negative numbers inputPerMillion and outputPerMillion`);
    }
    if (p.asOf !== undefined && (typeof p.asOf !== 'string' || !DATE.test(p.asOf))) throw new Error(`${variable}: asOf of ${model} must be YYYY-MM-DD`);
    models[model] = { inputPerMillion: p.inputPerMillion!, outputPerMillion: p.outputPerMillion!, ...(p.asOf ? { asOf: p.asOf } : {}) };
  }
  return {
    asOf: typeof given.asOf === 'string' ? given.asOf : DEFAULT_PRICE_TABLE.asOf,
    source: typeof given.source === 'string' ? given.source : variable,
    models,
  };
}

export function priceOf(table: PriceTable, model: string): ModelPrice {
  const price = Object.hasOwn(table.models, model) ? table.models[model] : undefined;
  if (!price) throw new UnknownModelPriceError(model, Object.keys(table.models));
  return price;
}

/**
 * The table holds batch prices, a 50 % discount on every provider we use: the on-demand (full) price of a
 * model is twice its batch price.
 */
export const ON_DEMAND_PRICE_FACTOR = 2;

/** The same models at their on-demand price: what an answer made through the chat API (a deadline's) costs. */
export function onDemandPriceTable(table: PriceTable): PriceTable {
  const models = Object.fromEntries(
    Object.entries(table.models).map(([model, price]) => [
      model,
      { ...price, inputPerMillion: price.inputPerMillion * ON_DEMAND_PRICE_FACTOR, outputPerMillion: price.outputPerMillion * ON_DEMAND_PRICE_FACTOR },
    ]),
  );
  return { ...table, source: `${table.source}; on demand at ${ON_DEMAND_PRICE_FACTOR}x the batch price`, models };
}

/** USD for one request's tokens on `model` (the default table unless one is given). */
export function costOfUsage(model: string, usage: Usage, table?: PriceTable): number;
/** The same, table first (the form the poller uses). */
export function costOfUsage(table: PriceTable, model: string, usage: Usage): number;
export function costOfUsage(first: string | PriceTable, second: Usage | string, third?: PriceTable | Usage): number {
  const [table, model, usage] =
    typeof first === 'string' ? [(third as PriceTable | undefined) ?? DEFAULT_PRICE_TABLE, first, second as Usage] : [first, second as string, third as Usage];
  const price = priceOf(table, model);
  return (usage.promptTokens * price.inputPerMillion + usage.completionTokens * price.outputPerMillion) / 1_000_000;
}

export interface BatchCost {
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  usd: number;
  /** The date of the price used. */
  pricedAsOf: string;
}

/** Cost of a batch's usages on one model: tokens are summed first, then priced once. */
export function costOfBatch(model: string, usages: Iterable<Usage | null | undefined>, table: PriceTable = DEFAULT_PRICE_TABLE): BatchCost {
  const price = priceOf(table, model);
  let requests = 0;
  let promptTokens = 0;
  let completionTokens = 0;
  for (const usage of usages) {
    if (!usage) continue;
    requests++;
    promptTokens += usage.promptTokens;
    completionTokens += usage.completionTokens;
  }
  return {
    model,
    requests,
    promptTokens,
    completionTokens,
    usd: (promptTokens * price.inputPerMillion + completionTokens * price.outputPerMillion) / 1_000_000,
    pricedAsOf: price.asOf ?? table.asOf,
  };
}

/**
 * Provider codes of lines that generated tokens before failing. The provider bills them, yet its error
 * line carries no usage: their prompt tokens are estimated from what we sent.
 */
export const BILLED_FAILURE_CODES: ReadonlySet<string> = new Set(['json_validate_failed', OUR_CODES.outputTooLong]);

/**
 * How a failed line is billed: by the usage it reports; by an estimate of its prompt tokens (it ran, but
 * says nothing of its tokens: a generation failure, a line dropped from both files or cut short); or not
 * at all (never ran: unfinished lines of an expired, cancelled or failed batch; or refused before any
 * generation: invalid input, context too long, transient 5xx).
 */
export function billingOfFailure(failure: Pick<FailedOutcome, 'cause' | 'code' | 'usage'>): 'usage' | 'estimate' | 'none' {
  if (failure.usage) return 'usage';
  switch (failure.cause) {
    case 'missing':
    case 'malformed':
      return 'estimate';
    case 'provider_error':
      return BILLED_FAILURE_CODES.has(failure.code) ? 'estimate' : 'none';
    default:
      return 'none';
  }
}

export interface BilledPart {
  lines: number;
  promptTokens: number;
  completionTokens: number;
  usd: number;
}

/**
 * What the provider bills for one batch, in three parts: the answered lines and the failed lines that
 * reported usage (both known), and the billed failed lines without usage, estimated (see `estimateFailedLine`).
 */
export interface BilledCost {
  answered: BilledPart;
  failedAttempts: BilledPart;
  estimated: BilledPart;
  totalUsd: number;
}

function billedPart(price: ModelPrice, usages: Iterable<Usage>): BilledPart {
  const part = { lines: 0, promptTokens: 0, completionTokens: 0, usd: 0 };
  for (const usage of usages) {
    part.lines++;
    part.promptTokens += usage.promptTokens;
    part.completionTokens += usage.completionTokens;
  }
  part.usd = (part.promptTokens * price.inputPerMillion + part.completionTokens * price.outputPerMillion) / 1_000_000;
  return part;
}

/** The billed cost of one batch on `model`: tokens summed per part, then priced once. */
export function billedCostOf(
  table: PriceTable,
  model: string,
  lines: { answered: Iterable<Usage>; failedWithUsage: Iterable<Usage>; estimated: Iterable<Usage> },
): BilledCost {
  const price = priceOf(table, model);
  const answered = billedPart(price, lines.answered);
  const failedAttempts = billedPart(price, lines.failedWithUsage);
  const estimated = billedPart(price, lines.estimated);
  return { answered, failedAttempts, estimated, totalUsd: answered.usd + failedAttempts.usd + estimated.usd };
}

/** How a batch's answered lines calibrate the estimate of its failed lines that report no usage. */
export interface FailedLineCalibration {
  /** Actual prompt tokens over our own estimate, on a sample of the batch's answered lines (1 without a sample). */
  promptRatio: number;
  /** Mean completion tokens of the batch's answered lines (0 without any). */
  meanCompletionTokens: number;
  maxTokens: number;
}

/** The ratio and mean above, from answered lines' usage and our estimates of the same lines' prompts. */
export function calibrateFailedLines(sample: ReadonlyArray<{ usage: Usage; estimatedPromptTokens: number }>, answered: readonly Usage[], maxTokens: number): FailedLineCalibration {
  const estimated = sample.reduce((sum, line) => sum + line.estimatedPromptTokens, 0);
  const actual = sample.reduce((sum, line) => sum + line.usage.promptTokens, 0);
  const completion = answered.reduce((sum, usage) => sum + usage.completionTokens, 0);
  return {
    promptRatio: estimated > 0 && actual > 0 ? actual / estimated : 1,
    meanCompletionTokens: answered.length > 0 ? completion / answered.length : 0,
    maxTokens,
  };
}

/**
 * A billed failed line without usage: its prompt is our estimate of what we sent, scaled to the provider's
 * count by the batch's answered lines; its completion is what the model generated before the failure —
 * the whole output budget for an answer cut at max_tokens, else about what the batch's answers took
 * (a json_validate_failed line is a complete answer the provider refused to return).
 */
export function estimateFailedLine(code: string, estimatedPromptTokens: number, calibration: FailedLineCalibration): Usage {
  return {
    promptTokens: Math.round(estimatedPromptTokens * calibration.promptRatio),
    completionTokens: Math.round(code === OUR_CODES.outputTooLong ? calibration.maxTokens : calibration.meanCompletionTokens),
  };
}
