import * as groq from 'groq-sdk';
import { APIConnectionTimeoutError, APIError } from 'groq-sdk';
import * as openai from 'openai';
import { BatchApiError, GroqBatchError, providerFailureOf, redact } from './errors.js';
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

describe('errors of either SDK', () => {
  const sdks = [
    ['groq-sdk', groq],
    ['openai', openai],
  ] as const;

  it.each(sdks)('%s: the same verdicts, the same reading of status, code and message', (_name, sdk) => {
    const refused = sdk.APIError.generate(400, { error: { message: 'bad file', type: 'invalid_request_error', code: 'file_not_found' } }, undefined, new Headers());
    const limited = sdk.APIError.generate(429, { error: { message: 'slow down' } }, undefined, new Headers({ 'retry-after': '2' }));
    expect(retryVerdict(refused, 1, policy)).toMatchObject({ retry: false, reason: 'HTTP 400 is not retryable' });
    expect(retryVerdict(limited, 1, policy)).toMatchObject({ retry: true, delayMs: 2_000 });
    expect(retryVerdict(new sdk.APIConnectionError({ message: 'socket hang up' }), 1, policy, () => 0)).toMatchObject({ retry: true, delayMs: 50 });
    expect(retryVerdict(new sdk.APIUserAbortError(), 1, policy)).toMatchObject({ retry: false, reason: 'aborted' });
    expect(providerFailureOf(refused)).toEqual({ status: 400, code: 'file_not_found', type: 'invalid_request_error', message: 'bad file', timedOut: false });
    expect(providerFailureOf(new sdk.APIConnectionTimeoutError())).toMatchObject({ code: 'timeout', timedOut: true });
    expect(new BatchApiError('create batch', { batchKey: 'k' }, new sdk.APIConnectionError({ message: 'x' }))).toMatchObject({ code: 'connection_error', retryable: true });
  });

  it('keeps the Groq-era name as the same class', () => {
    expect(new GroqBatchError('list batches', {}, new Error('x'))).toBeInstanceOf(BatchApiError);
  });

  it('scrubs Groq and OpenAI keys from text', () => {
    expect(redact('key gsk_abcdefghijkl and sk-proj-AbCdEf0123456789_xyz, risk-assessment-of-things')).toBe('key [REDACTED] and [REDACTED], risk-assessment-of-things');
  });
});
