import type { ModelPrice } from '#ledger';

/** The model an "always the strong model" baseline would use. */
export const STRONG_MODEL = process.env.STRONG_MODEL ?? 'llama-3.3-70b-versatile';

// Replaced by the provider layer's dated price table.
const FALLBACK: Record<string, ModelPrice> = {
  'llama-3.3-70b-versatile': { inputPerMillion: 0.295, outputPerMillion: 0.395 },
};

export function strongModelPrice(): ModelPrice {
  return FALLBACK[STRONG_MODEL] ?? { inputPerMillion: 0, outputPerMillion: 0 };
}
