import { admitLines, estimateLine } from './quota-gate.js';
import { MemoryQuotaStore } from './quota-store.js';

const idle = { minute: { requests: 0, tokens: 0 }, day: { requests: 0, tokens: 0 } };
const lines = (count: number, tokens = 1_000, costUsd = 0.001) => Array.from({ length: count }, () => ({ tokens, costUsd }));

describe('admitLines', () => {
  it('admits everything when nothing is configured', () => {
    expect(admitLines('m', lines(500), idle, 0, {})).toEqual({ admitted: 500 });
  });

  it('splits a batch at the daily token budget and says why', () => {
    const usage = { ...idle, day: { requests: 10, tokens: 7_500 } };
    const result = admitLines('cheap', lines(10), usage, 0, { tokensPerDay: 10_000 });
    // 7,500 used; 1,000 per line: 2 more lines fit (9,500), the third would make 10,500.
    expect(result.admitted).toBe(2);
    expect(result.limit?.kind).toBe('token_budget');
    expect(result.limit?.reason).toContain('daily token budget of cheap');
    expect(result.limit?.reason).toContain('9,500 of 10,000 tokens used today, the next request needs up to 1,000');
  });

  it('holds everything once the daily spend budget is committed, across models', () => {
    const result = admitLines('strong', lines(3, 100, 0.4), idle, 0.9, {}, 1);
    expect(result.admitted).toBe(0);
    expect(result.limit?.kind).toBe('spend_budget');
    expect(result.limit?.reason).toMatch(/daily spend budget \$1\.0000 reached: \$0\.9000 committed today/);
  });

  it('stops at the spend budget in the middle of a batch', () => {
    // $0.25 per line against $1: 4 lines fit exactly, the fifth would overspend.
    expect(admitLines('m', lines(10, 10, 0.25), idle, 0, {}, 1).admitted).toBe(4);
  });

  it('applies per-minute limits on requests and tokens', () => {
    const minuteUsage = { minute: { requests: 8, tokens: 0 }, day: { requests: 8, tokens: 0 } };
    expect(admitLines('m', lines(5), minuteUsage, 0, { requestsPerMinute: 10 })).toMatchObject({ admitted: 2, limit: { kind: 'request_quota' } });
    expect(admitLines('m', lines(5, 400), idle, 0, { tokensPerMinute: 1_000 })).toMatchObject({ admitted: 2, limit: { kind: 'token_quota' } });
    expect(admitLines('m', lines(5), idle, 0, { requestsPerDay: 3 })).toMatchObject({ admitted: 3, limit: { kind: 'request_quota' } });
  });

  it('lets one line larger than the whole per-minute allowance through alone, never two', () => {
    expect(admitLines('m', lines(2, 5_000), idle, 0, { tokensPerMinute: 1_000 }).admitted).toBe(1);
  });
});

describe('estimateLine', () => {
  it('counts about 4 characters per input token plus the whole output budget, at batch prices', () => {
    const estimate = estimateLine(4_000, 1_024, { inputPerMillion: 0.1, outputPerMillion: 1 });
    expect(estimate.tokens).toBe(1_000 + 1_024);
    expect(estimate.costUsd).toBeCloseTo((1_000 * 0.1 + 1_024 * 1) / 1e6, 12);
  });
});

describe('MemoryQuotaStore', () => {
  it('keeps per-minute and per-day counters per model, and a new minute starts at zero', async () => {
    const store = new MemoryQuotaStore();
    const at = new Date('2026-11-23T10:00:30Z');
    await store.record('a', { requests: 2, tokens: 100 }, at);
    await store.record('a', { requests: 1, tokens: 50 }, new Date('2026-11-23T10:00:50Z'));
    await store.record('b', { requests: 1, tokens: 1 }, at);
    expect(await store.usage('a', at)).toEqual({
      minute: { requests: 3, tokens: 150 },
      day: { requests: 3, tokens: 150 },
    });
    const nextMinute = new Date('2026-11-23T10:01:05Z');
    expect((await store.usage('a', nextMinute)).minute.requests).toBe(0);
    expect((await store.usage('a', nextMinute)).day.requests).toBe(3);
    expect(await store.models(at)).toEqual(['a', 'b']);
    expect((await store.usage('a', new Date('2026-11-24T00:00:01Z'))).day.requests).toBe(0);
  });
});
