import { parseChain, providerRoutes } from './provider-plan.js';

describe('--chain', () => {
  it('reads provider:model entries as the services read MODEL_CHAIN, returning model ids', () => {
    expect(parseChain('--chain', 'groq:openai/gpt-oss-20b,anthropic:claude-haiku-4-5')).toEqual(['openai/gpt-oss-20b', 'anthropic:claude-haiku-4-5']);
    expect(parseChain('--chain', ' openai:gpt-4.1-mini , openai:gpt-4.1 ,')).toEqual(['openai:gpt-4.1-mini', 'openai:gpt-4.1']);
    // A plain name is Groq's, stored plain.
    expect(parseChain('--chain', 'llama-3.3-70b-versatile')).toEqual(['llama-3.3-70b-versatile']);
  });

  it('refuses an unknown provider, naming the entry and the providers', () => {
    expect(() => parseChain('--chain', 'groq:openai/gpt-oss-20b,mistral:small')).toThrow(
      '--chain: mistral:small names provider mistral; the providers are groq, openai, anthropic (a plain model name means groq)',
    );
  });

  it('refuses spaces after the provider and an empty list', () => {
    expect(() => parseChain('--chain', 'openai: gpt-4.1')).toThrow(/--chain: openai: gpt-4\.1: the model name after the provider has spaces around it/);
    expect(() => parseChain('--chain', ' , ')).toThrow('--chain must name at least one model');
  });
});

describe('which providers run on a simulator', () => {
  const chain = ['openai/gpt-oss-20b', 'openai:gpt-4.1-mini', 'anthropic:claude-haiku-4-5'];

  it('each provider of the chain, once, in chain order: simulated when its key is unset', () => {
    expect(providerRoutes(chain, {})).toEqual([
      { provider: 'groq', simulated: true, keyVariable: 'GROQ_API_KEY' },
      { provider: 'openai', simulated: true, keyVariable: 'OPENAI_API_KEY' },
      { provider: 'anthropic', simulated: true, keyVariable: 'ANTHROPIC_API_KEY' },
    ]);
  });

  it('a provider whose key is set is used for real; one the chain does not name is not listed', () => {
    const routes = providerRoutes(['anthropic:claude-haiku-4-5', 'anthropic:claude-sonnet-4-5'], { ANTHROPIC_API_KEY: 'sk-ant', GROQ_API_KEY: '' });
    expect(routes).toEqual([{ provider: 'anthropic', simulated: false, keyVariable: 'ANTHROPIC_API_KEY' }]);
    expect(providerRoutes(chain, { OPENAI_API_KEY: 'sk' }).map((route) => [route.provider, route.simulated])).toEqual([
      ['groq', true],
      ['openai', false],
      ['anthropic', true],
    ]);
  });
});
