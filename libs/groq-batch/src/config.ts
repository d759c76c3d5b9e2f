/** How the client reaches the provider and the limits it respects. */
export interface GroqBatchConfig {
  /** From GROQ_API_KEY. */
  apiKey: string;
  /** The host root (https://api.groq.com, or the simulator's http://127.0.0.1:PORT): the SDK adds /openai/v1. */
  baseURL: string;
  timeoutMs: number;
  /** Retries of idempotent calls (429, 5xx, timeouts), with backoff honouring retry-after. */
  maxRetries: number;
  completionWindow: string;
  maxLinesPerFile: number;
  maxBytesPerFile: number;
}

export const DEFAULT_GROQ_BATCH_CONFIG: Omit<GroqBatchConfig, 'apiKey'> = {
  baseURL: 'https://api.groq.com',
  timeoutMs: 60_000,
  maxRetries: 4,
  completionWindow: '24h',
  maxLinesPerFile: 50_000,
  maxBytesPerFile: 100 * 1024 * 1024,
};

export function checkBaseUrl(baseURL: string): string {
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    throw new Error(`GROQ_BASE_URL is not a URL`);
  }
  if (/\/openai\/v1\/?$/.test(url.pathname)) {
    throw new Error('GROQ_BASE_URL must be the host root (e.g. https://api.groq.com): the SDK appends /openai/v1 itself');
  }
  return baseURL.replace(/\/+$/, '');
}
