import { isRetryableStatus } from './errors.js';
import { isSdkApiError, isSdkConnectionError, isSdkUserAbortError } from './sdk-errors.js';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  maxRetryAfterMs: number;
}

/** Reported before each wait, so a service can log and count provider retries. */
export interface RetryEvent {
  operation: string;
  /** The attempt that just failed, from 1. */
  attempt: number;
  delayMs: number;
  reason: string;
}

/** The wait the server asked for: `retry-after-ms`, else `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers | null | undefined, now = Date.now()): number | null {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const after = headers?.get('retry-after')?.trim();
  if (!after) return null;
  if (/^\d+(\.\d+)?$/.test(after)) return Number(after) * 1_000;
  const date = Date.parse(after);
  return Number.isFinite(date) ? Math.max(0, date - now) : null;
}

/** Exponential backoff with jitter: half of the step fixed, half random, so replicas spread out. */
export function backoffDelayMs(attempt: number, policy: Pick<RetryPolicy, 'retryBaseDelayMs' | 'retryMaxDelayMs'>, random = Math.random): number {
  const step = Math.min(policy.retryMaxDelayMs, policy.retryBaseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** `explain` is set when the reason is worth putting in the final error message. */
export type RetryVerdict = { retry: false; reason: string; explain?: string } | { retry: true; delayMs: number; reason: string };

/**
 * Whether a failed attempt is worth repeating and after how long, for an error of either SDK (groq-sdk,
 * openai). The server's retry-after wins over
 * our backoff; one beyond `maxRetryAfterMs` ends the call instead of blocking the caller for that long.
 */
export function retryVerdict(error: unknown, attempt: number, policy: RetryPolicy, random = Math.random): RetryVerdict {
  if (attempt > policy.maxRetries) return { retry: false, reason: `no retries left (${policy.maxRetries} allowed)` };
  if (isSdkUserAbortError(error)) return { retry: false, reason: 'aborted' };
  if (isSdkConnectionError(error)) {
    return { retry: true, delayMs: backoffDelayMs(attempt, policy, random), reason: error.message || 'connection error' };
  }
  if (!isSdkApiError(error) || error.status === undefined) return { retry: false, reason: 'not a provider error' };
  const shouldRetry = error.headers?.get('x-should-retry');
  if (shouldRetry === 'false') return { retry: false, reason: `HTTP ${error.status}, x-should-retry: false` };
  if (shouldRetry !== 'true' && !isRetryableStatus(error.status)) return { retry: false, reason: `HTTP ${error.status} is not retryable` };
  const asked = retryAfterMs(error.headers);
  if (asked !== null && asked > policy.maxRetryAfterMs) {
    const explain = `the provider asked to wait ${Math.round(asked / 1000)} s, above the ${Math.round(policy.maxRetryAfterMs / 1000)} s bound (maxRetryAfterMs)`;
    return { retry: false, reason: explain, explain };
  }
  return {
    retry: true,
    delayMs: asked ?? backoffDelayMs(attempt, policy, random),
    reason: `HTTP ${error.status}${asked !== null ? ` (retry-after ${asked} ms)` : ''}`,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryHooks {
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onRetry?: (event: RetryEvent) => void;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or runs out of retries. The final failure goes
 * through `wrap`, so the caller names the operation and the batch or file it concerned.
 */
export async function withRetries<T>(
  operation: string,
  policy: RetryPolicy,
  hooks: RetryHooks,
  attempt: (attemptNumber: number) => Promise<T>,
  wrap: (error: unknown, attempts: number, note: string | undefined) => Error,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      const verdict = retryVerdict(error, n, policy, hooks.random);
      if (!verdict.retry) throw wrap(error, n, verdict.explain);
      hooks.onRetry?.({ operation, attempt: n, delayMs: verdict.delayMs, reason: verdict.reason });
      await (hooks.sleep ?? sleep)(verdict.delayMs);
    }
  }
}
