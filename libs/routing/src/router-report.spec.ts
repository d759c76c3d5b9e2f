import { describe, expect, it } from '@jest/globals';
import { formatRouterReport, type RouterVersionReport, routingLabel } from './router-report.js';

const holdout = { requests: 100, failures: 10, trainingRows: 400, routed: 8, precision: 0.75, recall: 0.6, savedFromPass2: 6, cheapFirstLaterPasses: 10, cheapFirstUsd: 1, routedUsd: 0.98, savedUsd: 0.02, cyclesSaved: 6 };

describe('router report', () => {
  it('labels a pass-1 attempt with the one classifier: only output a stronger model fixes counts as a failure', () => {
    expect(routingLabel({ outcome: 'succeeded', code: null, message: null, httpStatus: 200 })).toBe('succeeded');
    expect(routingLabel({ outcome: 'failed', code: 'json_validate_failed', message: 'Failed to validate JSON', httpStatus: 400 })).toBe('failed');
    expect(routingLabel({ outcome: 'failed', code: 'max_tokens_exceeded', message: 'output too long', httpStatus: 400 })).toBe('failed');
    // A provider outage says nothing about the request: left out of precision and recall.
    expect(routingLabel({ outcome: 'failed', code: 'internal_server_error', message: 'oops', httpStatus: 500 })).toBeNull();
  });

  it('prints each version with its hold-out figures and what its shadow and learned decisions did', () => {
    const version: RouterVersionReport = {
      version: 3,
      trainedAt: '2026-12-01T00:00:00.000Z',
      cheapModel: 'openai/gpt-oss-20b',
      strongModel: 'llama-3.3-70b-versatile',
      threshold: 0.308,
      preference: 'latency',
      holdout,
      shadow: { scored: 500, flagged: 20, labelled: 480, truePositives: 15, falsePositives: 5, falseNegatives: 10, precision: 0.75, recall: 0.6, savedFromPass2: 15, estimatedEffectUsd: 0.0012 },
      learned: { scored: 300, routed: 12, missedFailures: 4, routedUsd: 0.01, expectedCheapFirstUsd: 0.009, expectedEffectUsd: -0.001 },
    };
    const text = formatRouterReport([version]);
    expect(text).toContain('router v3 (openai/gpt-oss-20b → llama-3.3-70b-versatile, p(fail) > 0.308, favour latency');
    expect(text).toContain('hold-out precision 75.0 %, recall 60.0 %, saved $0.0200');
    expect(text).toContain('shadow: 500 scored, 20 would have started on llama-3.3-70b-versatile; against their pass-1 outcomes (480 labelled): precision 75.0 %, recall 60.0 %, 15 saved from pass 2, estimated effect $0.0012');
    expect(text).toContain('learned: 300 scored, 12 started on llama-3.3-70b-versatile ($0.0100; cheap-first expected from their scores $0.0090, effect -$0.0010); 4 failures on openai/gpt-oss-20b not foreseen');
  });
});
