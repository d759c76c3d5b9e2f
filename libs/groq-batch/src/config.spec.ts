import { checkBaseUrl, checkCompletionWindow } from './config.js';

describe('configuration', () => {
  it('refuses a base URL ending in /openai/v1, since the SDK appends it', () => {
    expect(() => checkBaseUrl('https://api.groq.com/openai/v1')).toThrow(/GROQ_BASE_URL: "https:\/\/api.groq.com\/openai\/v1" ends in \/openai\/v1; give the host root/);
    expect(() => checkBaseUrl('https://api.groq.com/openai/v1/')).toThrow(/host root/);
    expect(() => checkBaseUrl('api.groq.com')).toThrow(/not a URL/);
    expect(checkBaseUrl('https://api.groq.com')).toBe('https://api.groq.com');
  });

  it('accepts completion windows from 24h to 7d only', () => {
    for (const ok of ['24h', '48h', '3d', '7d', '168h']) expect(checkCompletionWindow(ok)).toBe(ok);
    for (const bad of ['23h', '8d', '1w', '24', '']) expect(() => checkCompletionWindow(bad)).toThrow(/24h to 7d/);
  });
});
