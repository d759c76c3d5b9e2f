import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PRICE_TABLE, priceOf } from '#groq-batch';
import { FEATURE_NAMES } from './features.js';
import { evaluateVersion, type Pass1Attempt, sequenceFeatures, trainVersion } from './training.js';

const prices = {
  cheapModel: 'openai/gpt-oss-20b',
  strongModel: 'llama-3.3-70b-versatile',
  cheap: priceOf(DEFAULT_PRICE_TABLE, 'openai/gpt-oss-20b'),
  strong: priceOf(DEFAULT_PRICE_TABLE, 'llama-3.3-70b-versatile'),
};

const CODE = '```ts\nconst a = 1;\n```';

/** Attempts one minute apart; every request with four code blocks fails, the others pass. */
function attempts(count: number): Pass1Attempt[] {
  return Array.from({ length: count }, (_, i) => {
    const rich = i % 5 === 0;
    return {
      requestId: `acme/web#${i}`,
      sentAt: new Date(Date.UTC(2025, 10, 1) + i * 60_000),
      failed: rich,
      input: { repo: i % 2 ? 'acme/web' : 'acme/api', author: `dev-${i % 7}`, title: 'fix: x', body: rich ? [CODE, CODE, CODE, CODE].join('\n') : 'plain', additions: 10, changedFiles: 1, promptVersion: 'pr-analysis-v2', promptTokens: rich ? 900 : 600 },
    };
  });
}

describe('router training', () => {
  it('gives each attempt the failure rates known before it, never its own outcome', () => {
    const { rows, history } = sequenceFeatures([
      { ...attempts(1)[0]!, failed: true },
      { ...attempts(2)[1]!, input: { ...attempts(2)[0]!.input } },
    ]);
    const repoRate = FEATURE_NAMES.indexOf('repo_failure_rate');
    expect(rows[0]!.features[repoRate]).toBe(0);
    expect(rows[1]!.features[repoRate]).toBeGreaterThan(0);
    expect(history.repos.get('acme/api')).toEqual({ attempts: 2, failures: 1 });
  });

  it('holds out the newest attempts and routes the failures it can see coming', () => {
    const history = attempts(500);
    const version = trainVersion(history, { prices, holdoutShare: 0.2, steps: 800 });
    expect(version.trainingRows).toBe(400);
    expect(version.holdoutFrom).toEqual(history[400]!.sentAt);
    expect(version.metrics.requests).toBe(100);
    expect(version.metrics.recall).toBe(1);
    expect(version.metrics.precision).toBe(1);
    expect(version.metrics.savedUsd).toBeGreaterThan(0);
    expect(evaluateVersion(version, history, prices)).toEqual(version.metrics);
  });

  it('refuses a history with no failure, or too short', () => {
    expect(() => trainVersion(attempts(500).map((a) => ({ ...a, failed: false })), { prices })).toThrow(/nothing to learn/);
    expect(() => trainVersion(attempts(20), { prices })).toThrow(/at least 50/);
  });
});
