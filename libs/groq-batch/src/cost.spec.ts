import { billedCostOf, billingOfFailure, calibrateFailedLines, costOfBatch, estimateFailedLine, costOfUsage, DEFAULT_PRICE_TABLE, onDemandPriceTable, priceOf, priceTableFrom, UnknownModelPriceError } from './cost.js';
import type { FailedOutcome } from './outcome.js';

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

describe('billed cost of a batch', () => {
  const failure = (cause: FailedOutcome['cause'], code: string, usage: FailedOutcome['usage'] = null) => ({ cause, code, usage });

  it('bills a failed line by its usage, by an estimate when it ran without reporting any, or not at all when nothing was generated', () => {
    expect(billingOfFailure(failure('invalid_output', 'schema_invalid', { promptTokens: 900, completionTokens: 300 }))).toBe('usage');
    expect(billingOfFailure(failure('provider_error', 'json_validate_failed', { promptTokens: 900, completionTokens: 300 }))).toBe('usage');
    expect(billingOfFailure(failure('provider_error', 'json_validate_failed'))).toBe('estimate');
    expect(billingOfFailure(failure('provider_error', 'output_too_long'))).toBe('estimate');
    expect(billingOfFailure(failure('missing', 'missing'))).toBe('estimate');
    expect(billingOfFailure(failure('malformed', 'malformed_line'))).toBe('estimate');
    for (const code of ['batch_expired', 'batch_cancelled', 'batch_failed']) expect(billingOfFailure(failure('unfinished', code))).toBe('none');
    // Written to the error file by a provider that lists unfinished lines there: still never ran.
    expect(billingOfFailure(failure('provider_error', 'batch_expired'))).toBe('none');
    for (const code of ['context_length_exceeded', 'internal_server_error', 'invalid_json_schema']) expect(billingOfFailure(failure('provider_error', code))).toBe('none');
  });

  it('splits a batch into answered, failed attempts and estimated: hand-computed on gpt-oss-20b', () => {
    const cost = billedCostOf(DEFAULT_PRICE_TABLE, 'openai/gpt-oss-20b', {
      // 100 answers of 800 in / 250 out: 80,000 × $0.0375/M + 25,000 × $0.15/M = $0.003 + $0.00375.
      answered: Array(100).fill({ promptTokens: 800, completionTokens: 250 }),
      // 2 schema-invalid answers that reported usage: 2,000 × 0.0375/M + 1,000 × 0.15/M = $0.000075 + $0.00015.
      failedWithUsage: Array(2).fill({ promptTokens: 1_000, completionTokens: 500 }),
      // 4 json_validate_failed lines estimated at 1,200 in / 250 out: 4,800 × 0.0375/M + 1,000 × 0.15/M = $0.00018 + $0.00015.
      estimated: Array(4).fill({ promptTokens: 1_200, completionTokens: 250 }),
    });
    expect(cost.answered).toEqual({ lines: 100, promptTokens: 80_000, completionTokens: 25_000, usd: expect.closeTo(0.00675, 12) });
    expect(cost.failedAttempts).toEqual({ lines: 2, promptTokens: 2_000, completionTokens: 1_000, usd: expect.closeTo(0.000225, 12) });
    expect(cost.estimated).toEqual({ lines: 4, promptTokens: 4_800, completionTokens: 1_000, usd: expect.closeTo(0.00033, 12) });
    expect(cost.totalUsd).toBeCloseTo(0.00675 + 0.000225 + 0.00033, 12);
  });

  it('estimates a failed line from its batch: the prompt scaled to the provider count, the completion as the answers took or the whole budget', () => {
    // Our estimate said 1,800 and 1,800 for two answers the provider counted at 900 and 1,100: ratio 2,000 / 3,600.
    const calibration = calibrateFailedLines(
      [
        { usage: { promptTokens: 900, completionTokens: 200 }, estimatedPromptTokens: 1_800 },
        { usage: { promptTokens: 1_100, completionTokens: 400 }, estimatedPromptTokens: 1_800 },
      ],
      [
        { promptTokens: 900, completionTokens: 200 },
        { promptTokens: 1_100, completionTokens: 400 },
        { promptTokens: 1_000, completionTokens: 300 },
      ],
      1_024,
    );
    expect(calibration).toEqual({ promptRatio: 2_000 / 3_600, meanCompletionTokens: 300, maxTokens: 1_024 });
    expect(estimateFailedLine('json_validate_failed', 3_600, calibration)).toEqual({ promptTokens: 2_000, completionTokens: 300 });
    expect(estimateFailedLine('output_too_long', 3_600, calibration)).toEqual({ promptTokens: 2_000, completionTokens: 1_024 });
    // A batch with no answer to learn from: our own estimate, no completion guess.
    expect(calibrateFailedLines([], [], 1_024)).toEqual({ promptRatio: 1, meanCompletionTokens: 0, maxTokens: 1_024 });
  });

  it('refuses a model without a price rather than billing it at zero', () => {
    expect(() => billedCostOf(DEFAULT_PRICE_TABLE, 'unknown/model', { answered: [], failedWithUsage: [], estimated: [] })).toThrow(UnknownModelPriceError);
  });
});

describe('on-demand prices', () => {
  it('are twice the batch prices of the table (its prices are 50 % batch discounts)', () => {
    const table = onDemandPriceTable(DEFAULT_PRICE_TABLE);
    expect(priceOf(table, 'openai/gpt-oss-20b')).toEqual({ inputPerMillion: 0.075, outputPerMillion: 0.3 });
    expect(costOfUsage(table, 'openai/gpt-oss-20b', { promptTokens: 1_000_000, completionTokens: 0 })).toBeCloseTo(
      2 * costOfUsage(DEFAULT_PRICE_TABLE, 'openai/gpt-oss-20b', { promptTokens: 1_000_000, completionTokens: 0 }),
      10,
    );
  });
});
