import { priceOf, priceTableFrom } from '#groq-batch';
import type { ModelPrice } from '#ledger';

/** The model an "always the strong model" baseline would use. */
export const STRONG_MODEL = process.env.STRONG_MODEL ?? 'llama-3.3-70b-versatile';

export function strongModelPrice(): ModelPrice {
  return priceOf(priceTableFrom(process.env.MODEL_PRICES_JSON), STRONG_MODEL);
}
