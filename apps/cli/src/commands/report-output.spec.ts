import type { RunReport, TeamInsights } from '#ledger';
import { parseReportFormat, renderReport, runReportText, runSummary } from './report-output.js';

const none = { prs: 0, medianHours: null };

const insights: TeamInsights = {
  promptVersion: null,
  months: ['2025-01'],
  allTeams: { analysed: 2, aiAssisted: 1, rate: 0.5 },
  teams: [{ team: 'alpha', analysed: 2, aiAssisted: 1, rate: 0.5, months: [{ month: '2025-01', analysed: 2, aiAssisted: 1, rate: 0.5 }] }],
  tools: [{ team: 'alpha', aiAssisted: 1, tools: [{ tool: 'Copilot', prs: 1, share: 1 }] }],
  speed: {
    allTeams: { cycleTime: { aiAssisted: { prs: 1, medianHours: 2 }, other: none }, reviewTime: { aiAssisted: none, other: none } },
    teams: [{ team: 'alpha', cycleTime: { aiAssisted: { prs: 1, medianHours: 2 }, other: none }, reviewTime: { aiAssisted: none, other: none } }],
  },
};

const run: RunReport = {
  promptVersion: null,
  teams: [
    { team: 'alpha', ingested: 3, excluded: 1, processable: 2, analysed: 2, failed: 0, inFlight: 0, coverage: 1, aiAssisted: 1, aiAssistedRate: 0.5 },
    { team: 'beta', ingested: 2, excluded: 0, processable: 2, analysed: 0, failed: 1, inFlight: 1, coverage: 0, aiAssisted: 0, aiAssistedRate: 0 },
  ],
  aiTools: [{ tool: 'Copilot', prs: 1, share: 1 }],
  passOneFailures: [],
  recoveredByLaterPasses: 0,
  permanentFailures: [],
  byModel: [],
  costUsd: 0.0123,
  cost: {
    basis: 'billed',
    totalUsd: 0.0123,
    answeredUsd: 0.01,
    failedAttemptsUsd: 0.002,
    estimatedUsd: 0.0003,
    estimatedLines: 4,
    estimatedPromptTokens: 8_000,
    estimatedCompletionTokens: 2_000,
    batchesNotFinished: 0,
    byModel: [],
    estimatedNote: 'prompt tokens estimated',
  },
  strongModel: 'strong-model',
  alwaysStrongCostUsd: 0.05,
  alwaysStrongBasis: 'billed',
  reconcile: {
    checkedAt: '2025-03-01T00:00:00.000Z',
    ingested: 5,
    succeeded: 2,
    failed: 1,
    excluded: 1,
    deadLettered: 0,
    inFlight: 1,
    invariantHolds: true,
    checks: [],
    lost: [],
    stuck: 0,
    stranded: 0,
    strandedRequests: [],
    inFlightRequests: [],
    inFlightListed: 0,
  },
};

describe('cascade report output', () => {
  it('accepts table, json and html only', () => {
    expect(['table', 'json', 'html'].map(parseReportFormat)).toEqual(['table', 'json', 'html']);
    expect(() => parseReportFormat('csv')).toThrow('--format must be table, json, html, got "csv"');
  });

  it('json holds the run report, the insights and the router figures side by side', () => {
    expect(JSON.parse(renderReport('json', run, insights))).toEqual({ run, insights, router: [] });
  });

  it('table is the run report followed by the insights tables', () => {
    const table = renderReport('table', run, insights);
    expect(table.indexOf('Coverage per team')).toBeLessThan(table.indexOf('AI-assisted PRs per team and month'));
    expect(table).toMatch(/Median hours, AI-assisted vs other/);
    expect(table).toContain('Predictive routing (routing_decisions against what happened)\n  no decisions recorded');
    expect(table.endsWith('\n')).toBe(true);
  });

  it('html is the insights page with the run summary', () => {
    expect(runSummary(run)).toEqual([
      { label: 'prompt version', value: 'all' },
      { label: 'ingested PRs', value: '5' },
      // analysed 2 + 0 of processable 2 + 2
      { label: 'coverage (analysed / processable)', value: '2 / 4 = 50.0 %' },
      { label: 'cost billed (answered + failed attempts + estimated)', value: '$0.0123 = $0.0100 + $0.0020 + $0.0003 (4 lines estimated)' },
      { label: 'always strong-model, same basis', value: '$0.0500' },
      { label: 'in flight / lost', value: '1 / 0' },
    ]);
    const html = renderReport('html', run, insights, [], new Date('2025-03-01T12:00:00Z'));
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('Read from the database at 2025-03-01T12:00:00.000Z');
    expect(html).toContain('<dt>coverage (analysed / processable)</dt><dd>2 / 4 = 50.0 %</dd>');
  });

  it('sums the billed cost per provider, plain (Groq) model names included', () => {
    const row = { pass: 1, answeredLines: 0, failedLines: 0, estimatedLines: 0, answeredUsd: 0, failedAttemptsUsd: 0, estimatedUsd: 0 };
    const byModel = [
      { ...row, model: 'openai/gpt-oss-20b', batches: 2, totalUsd: 0.01 },
      { ...row, model: 'anthropic:claude-haiku-4-5', pass: 2, batches: 1, totalUsd: 0.002 },
      { ...row, model: 'anthropic:claude-sonnet-4-5', pass: 3, batches: 1, totalUsd: 0.0003 },
    ];
    const text = runReportText({ ...run, cost: { ...run.cost, byModel } });
    expect(text).toContain(
      [
        'Billed cost by provider',
        '  groq          2 batches  $0.0100  (openai/gpt-oss-20b)',
        '  anthropic     2 batches  $0.0023  (anthropic:claude-haiku-4-5, anthropic:claude-sonnet-4-5)',
      ].join('\n'),
    );
    expect(text.indexOf('Billed cost by provider')).toBeLessThan(text.indexOf('Total billed'));
  });
});
