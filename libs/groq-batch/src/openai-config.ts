import { type BatchClientConfig, BatchConfigError } from './config.js';

/**
 * The OpenAI client's configuration: the shared fields, read with OpenAI's conventions. Variable names
 * in messages (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_COMPLETION_WINDOW) are those the services use.
 */
export interface OpenAiBatchConfig extends BatchClientConfig {
  /** Batches asked for per `batches.list` page (OpenAI: 1 to 100). */
  listPageSize: number;
  /** Sent as `OpenAI-Organization` when set; otherwise the key's default organization. */
  organization?: string;
  /** Sent as `OpenAI-Project` when set; otherwise the key's default project. */
  project?: string;
}

/**
 * Models that take `response_format: {type: 'json_schema', strict: true}` (OpenAI's structured outputs:
 * gpt-4o-mini, gpt-4o from 2024-08-06, and the gpt-4.1 family).
 */
export const DEFAULT_OPENAI_STRICT_MODELS: readonly string[] = ['gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-4o', 'gpt-4o-mini'];

export const DEFAULT_OPENAI_BATCH_CONFIG: Omit<OpenAiBatchConfig, 'apiKey'> = {
  baseURL: 'https://api.openai.com/v1',
  timeoutMs: 60_000,
  uploadTimeoutMs: 600_000,
  maxRetries: 4,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
  // The only window OpenAI accepts.
  completionWindow: '24h',
  maxLinesPerFile: 50_000,
  // OpenAI's "up to 200 MB" read in decimal megabytes, the safe reading.
  maxBytesPerFile: 200_000_000,
  strictModels: DEFAULT_OPENAI_STRICT_MODELS,
  maxListPages: 50,
  listSettleMs: 30_000,
  listPageSize: 100,
};

/**
 * Returns the base URL without trailing slashes. OpenAI's SDK takes the API root with its version
 * (https://api.openai.com/v1, or the simulator's http://127.0.0.1:PORT/v1): a bare host would send every
 * call to a route that does not exist, so it is refused here rather than failing with 404s later.
 */
export function checkOpenAiBaseUrl(baseURL: string, variable = 'OPENAI_BASE_URL'): string {
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    throw new BatchConfigError(variable, `"${baseURL}" is not a URL (expected the API root, e.g. https://api.openai.com/v1)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BatchConfigError(variable, `"${baseURL}" must be an http or https URL`);
  }
  if (url.pathname === '/' || url.pathname === '') {
    throw new BatchConfigError(variable, `"${baseURL}" has no path; give the API root with its version (e.g. https://api.openai.com/v1)`);
  }
  return baseURL.replace(/\/+$/, '');
}

/** OpenAI's Batch API accepts one completion window: `24h`. */
export function checkOpenAiCompletionWindow(window: string, variable = 'OPENAI_COMPLETION_WINDOW'): string {
  if (window !== '24h') throw new BatchConfigError(variable, `"${window}" is not a completion window OpenAI accepts (only 24h)`);
  return window;
}

export function checkOpenAiListPageSize(size: number, variable = 'listPageSize'): number {
  if (!Number.isInteger(size) || size < 1 || size > 100) throw new BatchConfigError(variable, `${size} is not a page size from 1 to 100`);
  return size;
}
