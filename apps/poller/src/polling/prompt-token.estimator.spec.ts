import { estimateLine, prAnalysisLineBuilder, requestBodyChars } from '#batching';
import { sampleRequestMetadata } from '#contracts/testing';
import { promptRegistry } from '#groq-batch';
import { estimatePromptTokens } from './prompt-token.estimator.js';

const batch = { batchId: 'b-1', batchKey: `cascade-${'0'.repeat(40)}`, pass: 1, model: 'openai/gpt-oss-20b', promptVersion: 'pr-analysis-v1', maxTokens: 1_024 };
const pr = (body: string) => ({ title: 'fix: retry loop', body, author: 'octocat', labels: [], additions: 10, deletions: 2, changedFiles: 1, reviews: [] });

describe('prompt tokens of a billed failed line', () => {
  const buildLine = prAnalysisLineBuilder(promptRegistry());
  const items = [
    { metadata: sampleRequestMetadata({ requestId: 'short' }), pr: pr('one line') },
    { metadata: sampleRequestMetadata({ requestId: 'long' }), pr: pr('x'.repeat(8_000)) },
  ];

  it('is the quotas\' input estimate applied to the request body the assembler sent, about 4 characters a token', () => {
    const estimates = estimatePromptTokens(items, batch, buildLine);
    const price = { inputPerMillion: 0, outputPerMillion: 0 };
    for (const item of items) {
      const row = { batch_id: 'b-1', batch_key: '', pass: 1, model: batch.model, prompt_version: batch.promptVersion, max_tokens: batch.maxTokens, request_count: 2 };
      const body = buildLine(item, row).body;
      // estimateLine = input estimate + the whole output budget: the input part is what a failed line is billed for.
      expect(estimates.get(item.metadata.requestId)).toBe(estimateLine(requestBodyChars(body), batch.maxTokens, price).tokens - batch.maxTokens);
      expect(estimates.get(item.metadata.requestId)).toBe(Math.ceil(JSON.stringify(body).length / 4));
    }
  });

  it('grows with the PR text sent: 8,000 more characters are about 2,000 more tokens', () => {
    const estimates = estimatePromptTokens(items, batch, buildLine);
    const more = estimates.get('long')! - estimates.get('short')!;
    expect(more).toBeGreaterThan(1_950);
    expect(more).toBeLessThan(2_100);
  });

  it('estimates only the lines asked for', () => {
    expect([...estimatePromptTokens(items.slice(1), batch, buildLine).keys()]).toEqual(['long']);
  });
});
