import { costOfBatch, costOfUsage, DEFAULT_PRICE_TABLE, priceTableFrom, UnknownModelPriceError } from './cost.js';

describe('cost', () => {
  it('costs a batch from known usage: a hand-computed figure', () => {
    // 1,000 lines of 800 in / 150 out on gpt-oss-20b: 800,000 × $0.0375/M + 150,000 × $0.15/M = $0.03 + $0.0225 = $0.0525.
    const usages = Array.from({ length: 1_000 }, () => ({ promptTokens: 800, completionTokens: 150 }));
    expect(costOfBatch('openai/gpt-oss-20b', usages)).toEqual({
      model: 'openai/gpt-oss-20b',
      requests: 1_000,
      promptTokens: 800_000,
      completionTokens: 150_000,
      usd: expect.closeTo(0.0525, 12),
      pricedAsOf: '2025-12-01',
    });
    // Pass 2 on the strong model: 40 lines of 900 in / 200 out = 36,000 × 0.295/M + 8,000 × 0.395/M = $0.01062 + $0.00316.
    expect(costOfBatch('llama-3.3-70b-versatile', Array(40).fill({ promptTokens: 900, completionTokens: 200 })).usd).toBeCloseTo(0.01378, 12);
  });

  it('costs one request, in either argument order', () => {
    const usage = { promptTokens: 1_000_000, completionTokens: 1_000_000 };
    expect(costOfUsage('openai/gpt-oss-120b', usage)).toBeCloseTo(0.375, 12);
    expect(costOfUsage(DEFAULT_PRICE_TABLE, 'llama-3.3-70b-versatile', usage)).toBeCloseTo(0.69, 12);
  });

  it('takes dated prices from configuration, merged over the defaults', () => {
    const table = priceTableFrom('{"asOf": "2026-11-01", "models": {"new/model": {"inputPerMillion": 1, "outputPerMillion": 2, "asOf": "2026-10-15"}}}');
    expect(table.asOf).toBe('2026-11-01');
    expect(costOfUsage('new/model', { promptTokens: 500_000, completionTokens: 500_000 }, table)).toBeCloseTo(1.5, 12);
    expect(costOfBatch('new/model', [], table).pricedAsOf).toBe('2026-10-15');
    expect(costOfUsage('openai/gpt-oss-20b', { promptTokens: 1_000_000, completionTokens: 0 }, table)).toBeCloseTo(0.0375, 12);
  });

  it('names an unknown model, and a bad configuration by its variable', () => {
    expect(() => costOfUsage('other/model', { promptTokens: 1, completionTokens: 1 })).toThrow(UnknownModelPriceError);
    expect(() => costOfUsage('other/model', { promptTokens: 1, completionTokens: 1 })).toThrow(/no price for model other\/model/);
    expect(() => costOfUsage('toString', { promptTokens: 1, completionTokens: 1 })).toThrow(/no price for model toString/);
    expect(() => priceTableFrom('{oops')).toThrow(/MODEL_PRICES_JSON is not JSON/);
    expect(() => priceTableFrom('{"models": {"m": {"inputPerMillion": -1, "outputPerMillion": 1}}}')).toThrow(/price of m needs non-negative/);
    expect(() => priceTableFrom('{"asOf": "Dec 2025", "models": {}}')).toThrow(/asOf must be a date/);
  });
});
