/**
 * How a batch client reaches its provider, how hard it retries, and the limits it respects. The services
 * build it from their validated environment (`groqClientFrom` in libs/batching, over the provider's
 * defaults); this library reads no environment variable. Field notes name Groq's variables; OpenAI's
 * differences are in `OpenAiBatchConfig`.
 */
export interface BatchClientConfig {
  /** GROQ_API_KEY (OPENAI_API_KEY). Never logged, never put in an error. */
  apiKey: string;
  /**
   * Groq: the host root (https://api.groq.com, or the simulator's http://127.0.0.1:PORT): the SDK adds
   * /openai/v1. OpenAI: the API root with its version, as the openai SDK takes it (https://api.openai.com/v1).
   */
  baseURL: string;
  /** Per request, until the response headers arrive; for downloads also the longest silence inside the body. */
  timeoutMs: number;
  /** An upload's response only comes once the whole body is sent, so it gets its own, longer, budget. */
  uploadTimeoutMs: number;
  /** Retries after the first attempt, on 408 / 409 / 429 / 498 / 5xx and connection errors. */
  maxRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** A retry-after longer than this is not waited for in-process: the call fails and the caller retries later. */
  maxRetryAfterMs: number;
  /** Groq accepts 24h to 7d; OpenAI only 24h. */
  completionWindow: string;
  maxLinesPerFile: number;
  maxBytesPerFile: number;
  /** Models that accept `strict: true` JSON-schema output; every other model gets best-effort mode. */
  strictModels: readonly string[];
  /** Bound on `batches.list` pages read while looking a batch up by its key. */
  maxListPages: number;
  /**
   * How long a batch whose create went unanswered is looked for by its key before it is created again:
   * the provider may list a new batch late, and creating too early pays for it twice.
   */
  listSettleMs: number;
}

/** The Groq client's configuration: the shared fields, read with Groq's conventions (host-root base URL, 24h–7d). */
export type GroqBatchConfig = BatchClientConfig;

export const DEFAULT_STRICT_MODELS: readonly string[] = ['openai/gpt-oss-20b', 'openai/gpt-oss-120b'];

export const DEFAULT_GROQ_BATCH_CONFIG: Omit<GroqBatchConfig, 'apiKey'> = {
  baseURL: 'https://api.groq.com',
  timeoutMs: 60_000,
  uploadTimeoutMs: 600_000,
  maxRetries: 4,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
  completionWindow: '24h',
  maxLinesPerFile: 50_000,
  // Decimal megabytes: the safe reading of the SDK's "up to 100 MB" (Groq's guide says 200 MB).
  maxBytesPerFile: 100_000_000,
  strictModels: DEFAULT_STRICT_MODELS,
  maxListPages: 50,
  listSettleMs: 30_000,
};

/** Thrown for a configuration value that cannot work; names the variable, never echoes a secret. */
export class BatchConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'BatchConfigError';
  }
}

/** The name this error had when the library spoke to Groq only; the same class. */
export const GroqBatchConfigError = BatchConfigError;
export type GroqBatchConfigError = BatchConfigError;

/** Returns the base URL without trailing slashes; refuses one that already ends in /openai/v1. */
export function checkBaseUrl(baseURL: string, variable = 'GROQ_BASE_URL'): string {
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    throw new BatchConfigError(variable, `"${baseURL}" is not a URL (expected the host root, e.g. https://api.groq.com)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BatchConfigError(variable, `"${baseURL}" must be an http or https URL`);
  }
  if (/\/openai\/v1\/?$/.test(url.pathname)) {
    throw new BatchConfigError(
      variable,
      `"${baseURL}" ends in /openai/v1; give the host root (e.g. https://api.groq.com): the SDK appends /openai/v1 itself`,
    );
  }
  return baseURL.replace(/\/+$/, '');
}

/** A completion window (`24h`, `7d`: hours or days) in hours; NaN when it is not written that way. */
export function completionWindowHours(window: string): number {
  const match = /^(\d+)(h|d)$/.exec(window);
  return match ? Number(match[1]) * (match[2] === 'd' ? 24 : 1) : NaN;
}

/** `24h` … `7d` (Groq's documented range), in hours or days. */
export function checkCompletionWindow(window: string, variable = 'GROQ_COMPLETION_WINDOW'): string {
  const hours = completionWindowHours(window);
  if (!(hours >= 24 && hours <= 168)) {
    throw new BatchConfigError(variable, `"${window}" is not a completion window from 24h to 7d (e.g. 24h, 48h, 7d)`);
  }
  return window;
}
