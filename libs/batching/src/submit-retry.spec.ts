import { GroqBatchError } from '#groq-batch';
import { APIError } from 'groq-sdk';
import { nextSubmitAttempt } from './submit-retry.js';

const policy = { baseDelayMs: 1_000, maxDelayMs: 60_000, maxAttempts: 5 };
const providerError = (status: number, retryAfterMs: number | null = null) =>
  new GroqBatchError('create batch', { batchKey: 'k' }, new APIError(status, { error: { message: `status ${status}` } }, undefined, new Headers()), { retryAfterMs });

describe('nextSubmitAttempt', () => {
  it('backs off exponentially, with jitter in the upper half of each step, capped', () => {
    const delays = [1, 2, 3, 4].map((attempt) => (nextSubmitAttempt(new Error('down'), attempt, policy, () => 1) as { retryInMs: number }).retryInMs);
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(nextSubmitAttempt(new Error('down'), 1, policy, () => 0)).toEqual({ retryInMs: 500 });
    expect(nextSubmitAttempt(new Error('down'), 4, { ...policy, maxDelayMs: 3_000, maxAttempts: 9 }, () => 1)).toEqual({ retryInMs: 3_000 });
  });

  it("honours the provider's retry-after when it asks for longer than the backoff", () => {
    expect(nextSubmitAttempt(providerError(429, 45_000), 1, policy, () => 1)).toEqual({ retryInMs: 45_000 });
    expect(nextSubmitAttempt(providerError(503, 10), 3, policy, () => 1)).toEqual({ retryInMs: 4_000 });
    // A day's wait is cut to the longest backoff: the batch is tried (and seen by reconcile) within it.
    expect(nextSubmitAttempt(providerError(429, 86_400_000), 1, policy, () => 1)).toEqual({ retryInMs: 60_000 });
  });

  it('holds after the last attempt, and at once when the provider refused, with the reason', () => {
    expect(nextSubmitAttempt(providerError(503), 5, policy)).toEqual({ heldReason: expect.stringMatching(/^gave up after 5 failed submissions \(SUBMIT_MAX_ATTEMPTS\): create batch .*HTTP 503/) });
    expect(nextSubmitAttempt(providerError(400), 1, policy)).toEqual({ heldReason: expect.stringMatching(/^the provider refused the submission: .*HTTP 400/) });
  });
});
