import type { RequestMetadata } from '../primitives.js';
import type { TopicPayloads } from '../registry.js';
import { Topic } from '../topics.js';

/** Valid sample payloads for every topic: used by the contract tests and as examples for producers. */
export function sampleRequestMetadata(overrides: Partial<RequestMetadata> = {}): RequestMetadata {
  return {
    requestId: 'acme/api#101',
    correlationId: 'corr-acme-api-101',
    team: 'payments',
    repo: 'acme/api',
    prNumber: 101,
    promptVersion: 'pr-analysis-v1',
    attempt: 1,
    contentHash: 'a'.repeat(64),
    ...overrides,
  };
}

export function samplePayloads(): TopicPayloads {
  const request = sampleRequestMetadata();
  const pr: TopicPayloads[Topic.PrIngested] = {
    requestId: 'acme/api#101',
    team: 'payments',
    repo: 'acme/api',
    prNumber: 101,
    title: 'fix: retry webhook delivery on 503',
    body: 'Retries the webhook call.\n\nGenerated with Claude Code',
    author: 'octocat',
    labels: ['bug'],
    additions: 42,
    deletions: 7,
    changedFiles: 3,
    createdAt: '2025-11-02T10:00:00.000Z',
    mergedAt: '2025-11-03T09:30:00.000Z',
    firstReviewAt: '2025-11-02T14:00:00.000Z',
    reviews: [{ author: 'coderabbitai[bot]', body: 'Walkthrough: looks good', submittedAt: '2025-11-02T14:00:00.000Z' }],
  };
  return {
    [Topic.PrIngested]: pr,
    [Topic.PrReplayed]: pr,
    [Topic.BatchSubmitted]: {
      batchId: 'b-1',
      batchKey: 'key-1',
      provider: 'groq',
      providerBatchId: 'batch_01',
      inputFileId: 'file_01',
      pass: 1,
      model: 'openai/gpt-oss-20b',
      promptVersion: 'pr-analysis-v1',
      maxTokens: 1024,
      submittedAt: '2025-11-02T10:00:00.000Z',
      requestCount: 1,
      part: 1,
      parts: 1,
      requests: [request],
    },
    [Topic.BatchCompleted]: {
      batchId: 'b-1',
      providerBatchId: 'batch_01',
      providerStatus: 'completed',
      pass: 1,
      model: 'openai/gpt-oss-20b',
      promptVersion: 'pr-analysis-v1',
      requestCount: 1,
      part: 1,
      parts: 1,
      results: [
        {
          request,
          analysis: {
            summary: 'Retries webhook delivery on 503.',
            change_type: 'bugfix',
            risk_level: 'low',
            ai_assisted: true,
            ai_tools: ['Claude', 'CodeRabbit'],
            ai_evidence: 'Generated with Claude Code',
            confidence: 0.9,
          },
          model: 'openai/gpt-oss-20b',
          pass: 1,
          usage: { promptTokens: 812, completionTokens: 143 },
          costUsd: 0.0000519,
        },
      ],
    },
    [Topic.RequestsFailed]: {
      batchId: 'b-1',
      providerBatchId: 'batch_01',
      pass: 1,
      model: 'openai/gpt-oss-20b',
      promptVersion: 'pr-analysis-v1',
      part: 1,
      parts: 1,
      failures: [
        {
          request,
          code: 'json_validate_failed',
          message: 'Failed to validate JSON. Please adjust your prompt.',
          httpStatus: 400,
          failedGeneration: '{"summary": "Retries',
          model: 'openai/gpt-oss-20b',
          pass: 1,
          maxTokens: 1024,
          batchId: 'b-1',
        },
      ],
    },
    [Topic.RequestsFailedPermanently]: {
      part: 1,
      parts: 1,
      failures: [
        {
          request,
          code: 'context_length_exceeded',
          reason: 'input too long for every model in the chain',
          attempts: [
            {
              attempt: 1,
              pass: 1,
              model: 'openai/gpt-oss-20b',
              batchId: 'b-1',
              code: 'context_length_exceeded',
              message: 'Please reduce the length of the messages.',
              httpStatus: 400,
            },
          ],
        },
      ],
    },
    [Topic.RequestsSettled]: {
      part: 1,
      parts: 1,
      settled: [
        { request: sampleRequestMetadata({ requestId: 'acme/api#102' }), outcome: 'excluded', reason: 'empty_body' },
        {
          request: sampleRequestMetadata({ requestId: 'acme/api#103' }),
          outcome: 'reused',
          analysis: {
            summary: 'Retries the webhook call on 503.',
            change_type: 'bugfix',
            risk_level: 'low',
            ai_assisted: true,
            ai_tools: ['Claude'],
            ai_evidence: 'Generated with Claude Code',
            confidence: 0.9,
          },
          model: 'openai/gpt-oss-20b',
          pass: 1,
          reusedFrom: 'acme/api#101',
        },
      ],
    },
    [Topic.ResultsMerged]: {
      part: 1,
      parts: 1,
      resolved: [{ request, status: 'succeeded', model: 'openai/gpt-oss-20b', pass: 1, code: null }],
    },
  };
}
