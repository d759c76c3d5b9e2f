import { decideRetry, type FailureFacts, type RetryPolicy } from './classify-failure.js';

const policy: RetryPolicy = {
  modelChain: ['openai/gpt-oss-20b', 'llama-3.3-70b-versatile'],
  maxAttempts: 3,
  maxTokensGrowth: 2,
  maxTokensCeiling: 8_192,
};
const cheap = 'openai/gpt-oss-20b';
const strong = 'llama-3.3-70b-versatile';

function facts(overrides: Partial<FailureFacts>): FailureFacts {
  return { code: 'json_validate_failed', message: 'Failed to validate JSON.', httpStatus: 400, model: cheap, maxTokens: 1_024, attempt: 1, ...overrides };
}

describe('decideRetry', () => {
  it('sends invalid JSON to the next model in the chain', () => {
    expect(decideRetry(facts({}), policy)).toMatchObject({ kind: 'retry', model: strong, maxTokens: 1_024 });
  });

  it('gives a cut output more tokens on the next model', () => {
    expect(decideRetry(facts({ code: 'output_too_long', message: 'cut at max tokens' }), policy)).toMatchObject({
      kind: 'retry',
      model: strong,
      maxTokens: 2_048,
    });
  });

  it('retries transient losses on the same model', () => {
    expect(decideRetry(facts({ code: 'batch_expired', httpStatus: null }), policy)).toMatchObject({ kind: 'retry', model: cheap });
  });

  it('is permanent when the chain is exhausted, naming the last error', () => {
    const decision = decideRetry(facts({ model: strong, attempt: 2 }), policy);
    expect(decision).toMatchObject({ kind: 'permanent', code: 'json_validate_failed' });
    if (decision.kind === 'permanent') expect(decision.reason).toMatch(/chain exhausted/);
  });

  it('is permanent when attempts run out, even for transient errors', () => {
    const decision = decideRetry(facts({ code: 'missing', httpStatus: null, attempt: 3 }), policy);
    expect(decision.kind).toBe('permanent');
    if (decision.kind === 'permanent') expect(decision.reason).toMatch(/after 3 attempts/);
  });

  it('is permanent for an input that is too long, on any model', () => {
    expect(decideRetry(facts({ code: 'context_length_exceeded', message: 'too long' }), policy).kind).toBe('permanent');
  });
});
