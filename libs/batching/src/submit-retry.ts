import { backoffDelayMs, GroqBatchError } from '#groq-batch';

export interface SubmitRetryPolicy {
  /** The wait after the first failure; doubled after each further one (with jitter), up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failed submissions after which the batch is held for an operator instead of retried. */
  maxAttempts: number;
}

export const DEFAULT_SUBMIT_RETRY: SubmitRetryPolicy = { baseDelayMs: 5_000, maxDelayMs: 300_000, maxAttempts: 8 };

export type SubmitRetry = { retryInMs: number } | { heldReason: string };

/**
 * What follows a failed submission (upload or create), after `attempt` failures in all: another try after
 * an exponential backoff, or the provider's retry-after when it asks for longer (up to `maxDelayMs`); or a hold with its reason,
 * when the provider refused (a retry cannot change its answer) or the attempts are used up.
 */
export function nextSubmitAttempt(error: unknown, attempt: number, policy: SubmitRetryPolicy, random = Math.random): SubmitRetry {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof GroqBatchError && !error.retryable) return { heldReason: `the provider refused the submission: ${message}` };
  if (attempt >= policy.maxAttempts) return { heldReason: `gave up after ${attempt} failed submissions (SUBMIT_MAX_ATTEMPTS): ${message}` };
  const backoff = backoffDelayMs(attempt, { retryBaseDelayMs: policy.baseDelayMs, retryMaxDelayMs: policy.maxDelayMs }, random);
  // Honoured up to the longest backoff: a longer wait would hide the batch from reconcile's stranded check.
  const asked = error instanceof GroqBatchError ? Math.min(error.retryAfterMs ?? 0, policy.maxDelayMs) : 0;
  return { retryInMs: Math.max(backoff, asked) };
}
