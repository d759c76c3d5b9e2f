import { APIConnectionTimeoutError, APIError } from 'groq-sdk';
import { backoffDelayMs, retryAfterMs, retryVerdict } from './retry.js';

const policy = { maxRetries: 3, retryBaseDelayMs: 100, retryMaxDelayMs: 1_000, maxRetryAfterMs: 5_000 };
const httpError = (status: number, headers: Record<string, string> = {}) => APIError.generate(status, { error: { message: 'x' } }, undefined, new Headers(headers));

describe('retry policy', () => {
  it('reads retry-after-ms, retry-after in seconds and as an HTTP date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2_000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 21 Oct 2015 07:28:05 GMT' }), Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(5_000);
    expect(retryAfterMs(new Headers())).toBeNull();
  });

  it('backs off exponentially with jitter, capped', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, policy, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, policy, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
  });

  it('retries 429, 498, 5xx and timeouts, honouring retry-after; not other 4xx; and stops after maxRetries', () => {
    expect(retryVerdict(httpError(429, { 'retry-after': '1' }), 1, policy)).toMatchObject({ retry: true, delayMs: 1_000 });
    expect(retryVerdict(httpError(498), 1, policy, () => 0)).toMatchObject({ retry: true, delayMs: 50 });
    expect(retryVerdict(httpError(503), 2, policy, () => 0)).toMatchObject({ retry: true, delayMs: 100 });
    expect(retryVerdict(new APIConnectionTimeoutError(), 1, policy)).toMatchObject({ retry: true });
    expect(retryVerdict(httpError(400), 1, policy)).toMatchObject({ retry: false });
    expect(retryVerdict(httpError(404), 1, policy)).toMatchObject({ retry: false });
    expect(retryVerdict(httpError(503), 4, policy)).toMatchObject({ retry: false, reason: 'no retries left (3 allowed)' });
    expect(retryVerdict(new Error('bug'), 1, policy)).toMatchObject({ retry: false });
  });

  it('follows x-should-retry, and gives up on a retry-after beyond its bound', () => {
    expect(retryVerdict(httpError(400, { 'x-should-retry': 'true' }), 1, policy)).toMatchObject({ retry: true });
    expect(retryVerdict(httpError(503, { 'x-should-retry': 'false' }), 1, policy)).toMatchObject({ retry: false });
    expect(retryVerdict(httpError(429, { 'retry-after': '3600' }), 1, policy)).toMatchObject({ retry: false, explain: expect.stringMatching(/asked to wait 3600 s/) });
  });
});
