import { checkBaseUrl, checkCompletionWindow, DEFAULT_GROQ_BATCH_CONFIG, groqBatchConfigFromEnv } from './config.js';

describe('configuration', () => {
  it('reads the environment with defaults', () => {
    const config = groqBatchConfigFromEnv({ GROQ_API_KEY: 'gsk_test', GROQ_BASE_URL: 'http://127.0.0.1:18080/', GROQ_MAX_RETRIES: '0', GROQ_STRICT_MODELS: 'a, b' });
    expect(config).toEqual({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: 'gsk_test', baseURL: 'http://127.0.0.1:18080', maxRetries: 0, strictModels: ['a', 'b'] });
  });

  it('refuses a base URL ending in /openai/v1, since the SDK appends it', () => {
    expect(() => checkBaseUrl('https://api.groq.com/openai/v1')).toThrow(/GROQ_BASE_URL: "https:\/\/api.groq.com\/openai\/v1" ends in \/openai\/v1; give the host root/);
    expect(() => checkBaseUrl('https://api.groq.com/openai/v1/')).toThrow(/host root/);
    expect(() => checkBaseUrl('api.groq.com')).toThrow(/not a URL/);
    expect(checkBaseUrl('https://api.groq.com')).toBe('https://api.groq.com');
  });

  it('names the variable at fault and never echoes the key', () => {
    expect(() => groqBatchConfigFromEnv({})).toThrow('GROQ_API_KEY: is not set');
    expect(() => groqBatchConfigFromEnv({ GROQ_API_KEY: 'gsk_x', GROQ_TIMEOUT_MS: 'soon' })).toThrow(/GROQ_TIMEOUT_MS: "soon" is not an integer/);
    expect(() => groqBatchConfigFromEnv({ GROQ_API_KEY: 'gsk_x', GROQ_COMPLETION_WINDOW: '1h' })).toThrow(/GROQ_COMPLETION_WINDOW: "1h"/);
  });

  it('accepts completion windows from 24h to 7d only', () => {
    for (const ok of ['24h', '48h', '3d', '7d', '168h']) expect(checkCompletionWindow(ok)).toBe(ok);
    for (const bad of ['23h', '8d', '1w', '24', '']) expect(() => checkCompletionWindow(bad)).toThrow(/24h to 7d/);
  });
});
