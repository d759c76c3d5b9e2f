import { checkBaseUrl, GroqBatchConfigError, type RetryPolicy } from '#groq-batch';

/**
 * How the client reaches Anthropic, how hard it retries, and the limits it respects. Like
 * `GroqBatchConfig`, built by the services from their validated environment; this library reads none.
 */
export interface AnthropicBatchConfig extends RetryPolicy {
  /** ANTHROPIC_API_KEY. Never logged, never put in an error. */
  apiKey: string;
  /** The host root (https://api.anthropic.com, or the simulator's http://127.0.0.1:PORT): paths start with /v1. */
  baseURL: string;
  /** The `anthropic-version` header of the create call, which this library sends itself (the SDK sends its own on the others). */
  anthropicVersion: string;
  /** Per request, until the response headers arrive; for results also the longest silence inside the body. */
  timeoutMs: number;
  /** A create's answer only comes once its whole body (up to 256 MB) is sent: its own, longer, budget. */
  createTimeoutMs: number;
  /** Anthropic: 100,000 requests per batch. */
  maxRequestsPerBatch: number;
  /** Anthropic: 256 MB per create body (read as decimal megabytes, the safe side). */
  maxBytesPerBatch: number;
  /** Batches per page while looking a batch up (1..1000). */
  listPageSize: number;
  /** Bound on pages read per look-up. */
  maxListPages: number;
  /**
   * How long a create whose answer was lost is looked for before it is created again (or declared in
   * doubt): the provider may list a new batch late, and creating too early pays for it twice.
   */
  listSettleMs: number;
  /** Allowance between our clock and the provider's when comparing `created_at` with the intent time. */
  clockSkewSeconds: number;
}

export const DEFAULT_ANTHROPIC_BATCH_CONFIG: Omit<AnthropicBatchConfig, 'apiKey'> = {
  baseURL: 'https://api.anthropic.com',
  anthropicVersion: '2023-06-01',
  timeoutMs: 60_000,
  createTimeoutMs: 600_000,
  maxRetries: 4,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
  maxRequestsPerBatch: 100_000,
  maxBytesPerBatch: 256_000_000,
  listPageSize: 100,
  maxListPages: 20,
  listSettleMs: 30_000,
  clockSkewSeconds: 60,
};

/** The checked base URL (no trailing slash); refuses one that already ends in /v1, where the paths begin. */
export function checkAnthropicBaseUrl(baseURL: string): string {
  const url = checkBaseUrl(baseURL, 'ANTHROPIC_BASE_URL');
  if (/\/v1$/.test(new URL(url).pathname)) {
    throw new GroqBatchConfigError('ANTHROPIC_BASE_URL', `"${baseURL}" ends in /v1; give the host root (e.g. https://api.anthropic.com)`);
  }
  return url;
}
