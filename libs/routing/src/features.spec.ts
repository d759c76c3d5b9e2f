import { describe, expect, it } from '@jest/globals';
import { codeBlocksOf, FEATURE_NAMES, featureVector, historyOf, markupLinesOf, promptVersionNumber, smoothedRate } from './features.js';

const CODE = '```ts\nconst a = 1;\n```';

describe('routing features', () => {
  it('counts code blocks and markup lines in a PR body', () => {
    const body = `Fixes the retry.\n\n## Checklist\n- [x] tests\n- [ ] docs\n| a | b |\n<!-- template -->\n${CODE}\n${CODE}`;
    expect(codeBlocksOf(body)).toBe(2);
    expect(markupLinesOf(body)).toBe(5);
    expect(codeBlocksOf('plain text')).toBe(0);
  });

  it('smooths a repository rate towards the overall one when it has few attempts', () => {
    expect(smoothedRate(undefined, 0.04)).toBeCloseTo(0.04);
    expect(smoothedRate({ attempts: 2, failures: 2 }, 0.04)).toBeLessThan(0.15);
    expect(smoothedRate({ attempts: 2_000, failures: 400 }, 0.04)).toBeCloseTo(0.198, 2);
  });

  it('reads the version number of a prompt', () => {
    expect(promptVersionNumber('pr-analysis-v2')).toBe(2);
    expect(promptVersionNumber('custom')).toBe(0);
  });

  it('gives one number per feature name, history included', () => {
    const history = historyOf([
      { repo: 'acme/web', author: 'dev-1', failed: true },
      { repo: 'acme/web', author: 'dev-2', failed: false },
    ]);
    expect(history.overallRate).toBe(0.5);
    const vector = featureVector(
      { repo: 'acme/web', author: 'dev-1', title: 'fix: x', body: CODE, additions: 7, changedFiles: 2, flags: { truncated: true }, promptVersion: 'pr-analysis-v2', promptTokens: 700 },
      history,
    );
    expect(vector).toHaveLength(FEATURE_NAMES.length);
    const named = Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, vector[i]]));
    expect(named).toMatchObject({ title_chars: 6, changed_files: 2, additions_log2: 3, code_blocks: 1, truncated: 1, injection_suspected: 0, prompt_version: 2 });
    expect(named.repo_failure_rate).toBeCloseTo(0.5);
  });
});
