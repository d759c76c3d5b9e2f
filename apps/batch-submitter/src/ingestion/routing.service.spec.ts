import { describe, expect, it } from '@jest/globals';
import type { RequestMetadata } from '#contracts';
import { promptRegistry } from '#groq-batch';
import { FEATURE_NAMES, type RoutingDecisionRecord, type StoredRouterVersion, trainRouter } from '#routing';
import type { EntityManager } from 'typeorm';
import type { SubmitterSettings } from '../batch-submitter.settings.js';
import type { NewRequest } from './request.repository.js';
import { RoutingService } from './routing.service.js';

const CHEAP = 'openai/gpt-oss-20b';
const STRONG = 'llama-3.3-70b-versatile';
const CODE = '```ts\nconst a = 1;\n```';

const settings = (routing?: SubmitterSettings['routing']): SubmitterSettings => ({
  promptVersion: 'pr-analysis-v1',
  prompts: promptRegistry(),
  guard: { maxBodyChars: 20_000, maxReviewChars: 2_000, maxReviews: 20 },
  modelChain: [CHEAP, STRONG],
  maxTokens: 1_024,
  cacheTtlHours: 720,
  routing,
});

/** A router for which only code blocks matter: two or more fail, none pass. */
function version(): StoredRouterVersion {
  const codeBlocks = FEATURE_NAMES.indexOf('code_blocks');
  const rows = Array.from({ length: 200 }, (_, i) => {
    const features = FEATURE_NAMES.map(() => 0);
    features[codeBlocks] = i % 4;
    return { features, failed: i % 4 >= 2 };
  });
  return {
    version: 3,
    trainedAt: new Date(),
    cheapModel: CHEAP,
    strongModel: STRONG,
    trained: trainRouter(rows, { steps: 400 }),
    history: { repos: [], authors: [], overallRate: 0.04 },
    threshold: 0.6,
    preference: 'cost',
    trainingRows: 200,
    holdoutFrom: null,
    metrics: {} as StoredRouterVersion['metrics'],
  };
}

function repository(stored: StoredRouterVersion | null) {
  const recorded: RoutingDecisionRecord[] = [];
  return {
    recorded,
    findVersion: async () => stored,
    recordDecisions: async (_manager: EntityManager, decisions: readonly RoutingDecisionRecord[]) => void recorded.push(...decisions),
  };
}

function queued(id: string, body: string): { metadata: RequestMetadata; pr: NewRequest['pr'] } {
  return {
    metadata: { requestId: id, correlationId: id, team: 'web', repo: 'acme/web', prNumber: 1, promptVersion: 'pr-analysis-v1', attempt: 1, contentHash: `h-${id}` },
    pr: {
      exclusion: null,
      title: 'fix: x',
      body,
      author: 'dev-1',
      labels: [],
      additions: 10,
      deletions: 1,
      changedFiles: 1,
      reviews: [],
      flags: { truncated: false, originalBodyChars: body.length, injectionSuspected: false, injectionPatterns: [], controlCharactersRemoved: 0 },
      createdAt: '2025-11-01T00:00:00Z',
      mergedAt: null,
      firstReviewAt: null,
    },
  };
}

const manager = {} as EntityManager;
const requests = [queued('plain', 'Fixes it.'), queued('rich', [CODE, CODE, CODE].join('\n'))];

describe('RoutingService', () => {
  it('learned: starts a request above the threshold on the next model, and records both decisions', async () => {
    const repo = repository(version());
    const models = await new RoutingService(repo as never, settings('learned')).firstModels(manager, requests);
    expect(models).toEqual([CHEAP, STRONG]);
    expect(repo.recorded.map((d) => [d.requestId, d.decision, d.mode, d.model, d.modelVersion])).toEqual([
      ['plain', 'cheap_first', 'learned', CHEAP, 3],
      ['rich', 'routed', 'learned', STRONG, 3],
    ]);
    expect(repo.recorded[1]!.reason).toMatch(/^p\(fail\) 0\.\d+ > 0\.6000 \(router v3\): pass 1 on llama/);
  });

  it('shadow (also when ROUTING is unset): records what it would do, starts everything on the first model', async () => {
    for (const mode of ['shadow', undefined] as const) {
      const repo = repository(version());
      expect(await new RoutingService(repo as never, settings(mode)).firstModels(manager, requests)).toEqual([CHEAP, CHEAP]);
      expect(repo.recorded.map((d) => [d.decision, d.mode, d.model])).toEqual([
        ['cheap_first', 'shadow', CHEAP],
        ['routed', 'shadow', CHEAP],
      ]);
    }
  });

  it('off, or no trained version, or a version this code cannot read: nothing scored, first model', async () => {
    const off = repository(version());
    expect(await new RoutingService(off as never, settings('off')).firstModels(manager, requests)).toEqual([CHEAP, CHEAP]);
    expect(off.recorded).toEqual([]);
    const none = repository(null);
    expect(await new RoutingService(none as never, settings('learned')).firstModels(manager, requests)).toEqual([CHEAP, CHEAP]);
    const stale = version();
    const unreadable = repository({ ...stale, trained: { ...stale.trained, featureNames: ['old'] } });
    expect(await new RoutingService(unreadable as never, settings('learned')).firstModels(manager, requests)).toEqual([CHEAP, CHEAP]);
    expect(unreadable.recorded).toEqual([]);
  });
});
