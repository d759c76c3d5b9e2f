import { describe, expect, it } from '@jest/globals';
import { syntheticPrs } from '../../../apps/cli/src/demo/synthetic-prs.js';
import { buildPrAnalysisRequest } from '../../../libs/groq-batch/src/pr-analysis/prompt.js';
import { failureChance, requestSignals } from './failure-model.js';
import { answerChatRequest, lineDigest } from './line-answer.js';
import { CHEAP_MODEL_PROFILE } from './options.js';
import { userText } from './pr-analysis-content.js';

const CODE = '```ts\nconst a = 1;\n```';

describe('failure model', () => {
  it('random: every request fails at the profile rate, whatever it reads', () => {
    expect(failureChance('random', 0.04, { promptTokens: 9_000, codeBlocks: 6, markupLines: 20, additions: 5_000 })).toBe(0.04);
  });

  it('features: reads code blocks, markup and additions from the user text', () => {
    const text = `size: +812 -3 in 4 files\nbody:\n## Checklist\n- [x] tests\n| a | b |\n${CODE}\n${CODE}`;
    expect(requestSignals(text, 700)).toEqual({ promptTokens: 700, codeBlocks: 2, markupLines: 3, additions: 812 });
  });

  it('features: a plain request fails less than the rate, a rich one far more', () => {
    const plain = failureChance('features', 0.04, { promptTokens: 600, codeBlocks: 0, markupLines: 1, additions: 100 });
    const rich = failureChance('features', 0.04, { promptTokens: 3_000, codeBlocks: 3, markupLines: 8, additions: 2_000 });
    expect(plain).toBeLessThan(0.025);
    expect(rich).toBeGreaterThan(0.4);
  });

  it('features: on the rich synthetic mix the overall rate stays near the profile rate, and the decisions are seeded', () => {
    const prs = syntheticPrs({ count: 3_000, seed: 11, richBodies: true }).filter((pr) => pr.body !== '');
    let failed = 0;
    let expected = 0;
    const profile = { ...CHEAP_MODEL_PROFILE, failureModel: 'features' as const };
    for (const pr of prs) {
      const body = buildPrAnalysisRequest(pr, { model: 'openai/gpt-oss-20b', maxTokens: 1_024, promptVersion: 'pr-analysis-v2' }) as unknown as Record<string, unknown>;
      const promptTokens = Math.ceil(JSON.stringify(body.messages).length / 4);
      expected += failureChance('features', profile.failureRate, requestSignals(userText(body.messages), promptTokens));
      const ctx = { seed: 3, model: 'openai/gpt-oss-20b', profile, attempt: 1, outputTooLongAs: 'error' as const, nowSeconds: 0, digest: lineDigest(JSON.stringify(body)) };
      const first = answerChatRequest(pr.requestId, body, ctx);
      if (first.outcome === 'json_validate_failed' || first.outcome === 'max_tokens_exceeded') failed++;
      expect(answerChatRequest(pr.requestId, body, ctx).outcome).toBe(first.outcome);
    }
    expect(expected / prs.length).toBeGreaterThan(0.03);
    expect(expected / prs.length).toBeLessThan(0.06);
    expect(failed / prs.length).toBeGreaterThan(0.025);
    expect(failed / prs.length).toBeLessThan(0.065);
  });
});
