import { strongModelOf } from '#batching';
import { priceOf, priceTableFrom } from '#groq-batch';
import type { ModelPrice } from '#ledger';
import type { CliEnv } from './cli-context.js';

/** What the "always the strong model" baseline of a report prices: the last model of MODEL_CHAIN, at MODEL_PRICES_JSON. */
export function strongModelBasis(env: Pick<CliEnv, 'MODEL_CHAIN' | 'MODEL_PRICES_JSON'>): { strongModel: string; strongPrice: ModelPrice } {
  const strongModel = strongModelOf(env);
  return { strongModel, strongPrice: priceOf(priceTableFrom(env.MODEL_PRICES_JSON), strongModel) };
}
