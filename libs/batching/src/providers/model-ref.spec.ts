import { modelEntryProblem, modelRefOf, providersOf } from './model-ref.js';

describe('modelRefOf', () => {
  it('reads a plain name as Groq, stored as it was before providers had names', () => {
    expect(modelRefOf('openai/gpt-oss-20b')).toEqual({ provider: 'groq', name: 'openai/gpt-oss-20b', id: 'openai/gpt-oss-20b' });
    expect(modelRefOf('groq:llama-3.3-70b-versatile')).toEqual({ provider: 'groq', name: 'llama-3.3-70b-versatile', id: 'llama-3.3-70b-versatile' });
  });

  it('keeps the provider in the id of other providers, and sends the bare name', () => {
    expect(modelRefOf('openai:gpt-4.1-mini')).toEqual({ provider: 'openai', name: 'gpt-4.1-mini', id: 'openai:gpt-4.1-mini' });
    expect(modelRefOf('anthropic:claude-haiku-4-5')).toEqual({ provider: 'anthropic', name: 'claude-haiku-4-5', id: 'anthropic:claude-haiku-4-5' });
  });

  it('names the entry and the known providers when the provider is unknown', () => {
    expect(modelEntryProblem('mistral:small')).toBe('mistral:small names provider mistral; the providers are groq, openai, anthropic (a plain model name means groq)');
    expect(() => modelRefOf('gemini:flash')).toThrow('gemini:flash names provider gemini');
    expect(modelEntryProblem('openai: gpt-4.1')).toMatch(/spaces/);
  });

  it('lists the providers of a chain once each, in order', () => {
    expect(providersOf(['openai/gpt-oss-20b', 'anthropic:claude-sonnet-4-5', 'groq:llama-3.3-70b-versatile'])).toEqual(['groq', 'anthropic']);
  });
});
