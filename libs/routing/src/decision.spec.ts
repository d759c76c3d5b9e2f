import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PRICE_TABLE, priceOf } from '#groq-batch';
import { evaluateRouting, routingThreshold } from './decision.js';

const tokens = { inputTokens: 700, outputTokens: 350 };

describe('routing decision', () => {
  it('routes above (strong − cheap) / (cheap + strong), from the price table', () => {
    const cheap = priceOf(DEFAULT_PRICE_TABLE, 'openai/gpt-oss-20b');
    const strong = priceOf(DEFAULT_PRICE_TABLE, 'llama-3.3-70b-versatile');
    const c = (700 * cheap.inputPerMillion + 350 * cheap.outputPerMillion) / 1e6;
    const s = (700 * strong.inputPerMillion + 350 * strong.outputPerMillion) / 1e6;
    expect(routingThreshold(cheap, strong, tokens)).toBeCloseTo((s - c) / (c + s), 10);
    expect(routingThreshold(cheap, strong, tokens, 'latency')).toBeCloseTo((s - c) / (c + s) / 2, 10);
    expect(routingThreshold(strong, cheap, tokens)).toBe(0);
  });

  it('counts precision, recall, pass-2 requests, dollars and cycles against cheap-first', () => {
    const evaluation = evaluateRouting(
      [
        { score: 0.9, failed: true, cheapUsd: 1, strongUsd: 4 },
        { score: 0.8, failed: false, cheapUsd: 1, strongUsd: 4 },
        { score: 0.1, failed: true, cheapUsd: 1, strongUsd: 4 },
        { score: 0.1, failed: false, cheapUsd: 1, strongUsd: 4 },
      ],
      0.5,
    );
    expect(evaluation).toEqual({
      requests: 4,
      failures: 2,
      routed: 2,
      precision: 0.5,
      recall: 0.5,
      savedFromPass2: 1,
      cheapFirstUsd: 12,
      routedUsd: 14,
      savedUsd: -2,
      cyclesSaved: 1,
    });
  });

  it('routes nothing above a threshold no score reaches', () => {
    expect(evaluateRouting([{ score: 0.05, failed: true, cheapUsd: 1, strongUsd: 4 }], 0.6).routed).toBe(0);
  });
});
