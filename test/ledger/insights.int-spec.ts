import { formatInsightsTable, renderInsightsHtml, teamInsights } from '#ledger';
import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '../support/infra.js';

/*
 * A small fixed data set, inserted with SQL, and every figure of the insights computed by hand.
 *
 * Two prompt versions: V9 first, then a replay with V10 for one request (a3). 'pr-analysis-v10' sorts
 * before 'pr-analysis-v9' as text, so picking "the latest" by version name instead of by resolved_at
 * would choose the wrong result.
 *
 * id  team   created (UTC)      month    analysis (latest)           merged  first review
 * a1  alpha  2025-01-05 10:00   2025-01  AI [Copilot]                +2h     +1h
 * a2  alpha  2025-01-12 08:00   2025-01  not AI                      +6h     +3h
 * a3  alpha  2025-01-20 09:00   2025-01  V10: AI [Claude, Copilot]   +10h    +2h
 *                                        V9 (older): not AI
 * a4  alpha  2025-02-03 14:00   2025-02  AI [Copilot, Copilot]       +4h     never
 * a5  alpha  2025-02-10 00:00   2025-02  not AI, yet [Cursor]        never   +5h
 * b1  beta   2025-01-31 23:30-02:00 = 2025-02-01 01:30 UTC, so 2025-02
 *                                        AI [Cursor]                  +8h     +30min
 * b2  beta   2025-01-15 12:00   2025-01  not AI                      +12h    +4h
 * b3  beta   2025-02-14 12:00   2025-02  AI [Cursor, CodeRabbit]     never   +1h
 * b4  beta   2025-02-20 12:00   2025-02  not AI                      +20h    +6h
 * b5  beta   failed: not analysed
 * b6  beta   excluded: not analysed
 * b7  beta   pending, no result: not analysed
 */
const V9 = 'pr-analysis-v9';
const V10 = 'pr-analysis-v10';
const HOUR = 3_600_000;

interface Fixture {
  id: string;
  team: string;
  createdAt: string;
  merged?: number;
  reviewed?: number;
  /** One result per prompt version; only succeeded ones carry an analysis. */
  results: Array<{ version: string; status: 'succeeded' | 'failed' | 'excluded'; ai?: boolean; tools?: string[]; resolvedAt: string }>;
  requestStatus?: string;
}

const later = (iso: string, hours: number | undefined) => (hours === undefined ? null : new Date(Date.parse(iso) + hours * HOUR).toISOString());
const ok = (ai: boolean, tools: string[] = [], version = V9, resolvedAt = '2025-03-01T00:00:00Z') =>
  ({ version, status: 'succeeded', ai, tools, resolvedAt }) as const;

const FIXTURES: Fixture[] = [
  { id: 'a1', team: 'alpha', createdAt: '2025-01-05T10:00:00Z', merged: 2, reviewed: 1, results: [ok(true, ['Copilot'])] },
  { id: 'a2', team: 'alpha', createdAt: '2025-01-12T08:00:00Z', merged: 6, reviewed: 3, results: [ok(false)] },
  {
    id: 'a3',
    team: 'alpha',
    createdAt: '2025-01-20T09:00:00Z',
    merged: 10,
    reviewed: 2,
    results: [ok(false, [], V9, '2025-03-01T00:00:00Z'), ok(true, ['Claude', 'Copilot'], V10, '2025-04-01T00:00:00Z')],
  },
  { id: 'a4', team: 'alpha', createdAt: '2025-02-03T14:00:00Z', merged: 4, results: [ok(true, ['Copilot', 'Copilot'])] },
  { id: 'a5', team: 'alpha', createdAt: '2025-02-10T00:00:00Z', reviewed: 5, results: [ok(false, ['Cursor'])] },
  { id: 'b1', team: 'beta', createdAt: '2025-01-31T23:30:00-02:00', merged: 8, reviewed: 0.5, results: [ok(true, ['Cursor'])] },
  { id: 'b2', team: 'beta', createdAt: '2025-01-15T12:00:00Z', merged: 12, reviewed: 4, results: [ok(false)] },
  { id: 'b3', team: 'beta', createdAt: '2025-02-14T12:00:00Z', reviewed: 1, results: [ok(true, ['Cursor', 'CodeRabbit'])] },
  { id: 'b4', team: 'beta', createdAt: '2025-02-20T12:00:00Z', merged: 20, reviewed: 6, results: [ok(false)] },
  {
    id: 'b5',
    team: 'beta',
    createdAt: '2025-02-21T12:00:00Z',
    merged: 1,
    reviewed: 1,
    requestStatus: 'failed',
    results: [{ version: V9, status: 'failed', resolvedAt: '2025-03-01T00:00:00Z' }],
  },
  {
    id: 'b6',
    team: 'beta',
    createdAt: '2025-02-22T12:00:00Z',
    merged: 1,
    reviewed: 1,
    requestStatus: 'excluded',
    results: [{ version: V9, status: 'excluded', resolvedAt: '2025-03-01T00:00:00Z' }],
  },
  { id: 'b7', team: 'beta', createdAt: '2025-02-23T12:00:00Z', merged: 1, reviewed: 1, requestStatus: 'pending', results: [] },
];

async function insert(ds: DataSource, fixture: Fixture): Promise<void> {
  const pr = {
    requestId: fixture.id,
    team: fixture.team,
    repo: `${fixture.team}/service`,
    prNumber: 1,
    title: fixture.id,
    body: 'body',
    author: 'dev',
    createdAt: fixture.createdAt,
    mergedAt: later(fixture.createdAt, fixture.merged),
    firstReviewAt: later(fixture.createdAt, fixture.reviewed),
  };
  const versions = fixture.results.length ? fixture.results.map((r) => r.version) : [V9];
  for (const version of versions) {
    const status = fixture.requestStatus ?? fixture.results.find((r) => r.version === version)!.status;
    await ds.query(
      `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, status, stage, pr_bytes)
       VALUES ($1, $2, $1, $3, $4, 1, 'hash', $5::text,
               CASE $5::text WHEN 'pending' THEN 'queued' WHEN 'in_flight' THEN 'submitted' WHEN 'excluded' THEN 'excluded' ELSE 'merged' END, $6)`,
      [fixture.id, version, fixture.team, pr.repo, status, JSON.stringify(pr).length],
    );
    await ds.query(`INSERT INTO request_inputs (request_id, prompt_version, pr) VALUES ($1, $2, $3)`, [fixture.id, version, JSON.stringify(pr)]);
  }
  for (const result of fixture.results) {
    const analysis = result.status === 'succeeded' ? { summary: 's', ai_assisted: result.ai, ai_tools: result.tools } : null;
    await ds.query(
      `INSERT INTO results (request_id, prompt_version, status, team, repo, pr_number, content_hash, analysis, resolved_at)
       VALUES ($1, $2, $3, $4, $5, 1, 'hash', $6, $7)`,
      [fixture.id, result.version, result.status, fixture.team, pr.repo, analysis && JSON.stringify(analysis), result.resolvedAt],
    );
  }
}

const none = { prs: 0, medianHours: null };

describe('team insights against PostgreSQL', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    for (const fixture of FIXTURES) await insert(db.dataSource, fixture);
  });
  afterAll(async () => db?.drop());

  it('counts each analysed PR once, with its latest successful result', async () => {
    const insights = await teamInsights(db.dataSource.manager, {});
    expect(insights.promptVersion).toBeNull();
    expect(insights.months).toEqual(['2025-01', '2025-02']);
    // 9 analysed: a1-a5 and b1-b4 (b5 failed, b6 excluded, b7 pending; a3 once although it has two results).
    // AI-assisted: a1, a3 (V10), a4, b1, b3 = 5; 5 / 9.
    expect(insights.allTeams).toEqual({ analysed: 9, aiAssisted: 5, rate: 5 / 9 });
    expect(insights.teams).toEqual([
      {
        team: 'alpha',
        // alpha: a1 a3 a4 AI of a1-a5 = 3 / 5
        analysed: 5,
        aiAssisted: 3,
        rate: 3 / 5,
        months: [
          // January: a1 (AI), a2, a3 (AI by V10) = 2 / 3
          { month: '2025-01', analysed: 3, aiAssisted: 2, rate: 2 / 3 },
          // February: a4 (AI), a5 = 1 / 2
          { month: '2025-02', analysed: 2, aiAssisted: 1, rate: 1 / 2 },
        ],
      },
      {
        team: 'beta',
        // beta: b1 b3 AI of b1-b4 = 2 / 4
        analysed: 4,
        aiAssisted: 2,
        rate: 2 / 4,
        months: [
          // January: b2 only (b1 was opened on 31 January at -02:00, which is February in UTC) = 0 / 1
          { month: '2025-01', analysed: 1, aiAssisted: 0, rate: 0 },
          // February: b1 (AI), b3 (AI), b4 = 2 / 3
          { month: '2025-02', analysed: 3, aiAssisted: 2, rate: 2 / 3 },
        ],
      },
    ]);
  });

  it("reads months in UTC whatever the session's time zone", async () => {
    // At -03:00, b1 (2025-02-01 01:30 UTC) is 31 January locally: it must stay in beta's February.
    const insights = await db.dataSource.transaction(async (manager) => {
      await manager.query(`SET LOCAL TIME ZONE 'America/Sao_Paulo'`);
      return teamInsights(manager, {});
    });
    expect(insights.teams[1]!.months).toEqual([
      { month: '2025-01', analysed: 1, aiAssisted: 0, rate: 0 },
      { month: '2025-02', analysed: 3, aiAssisted: 2, rate: 2 / 3 },
    ]);
  });

  it("breaks the tools down per team over the team's AI-assisted PRs", async () => {
    const { tools } = await teamInsights(db.dataSource.manager, {});
    expect(tools).toEqual([
      {
        team: 'alpha',
        aiAssisted: 3,
        tools: [
          // Copilot: a1, a3, a4 (named twice on a4, one PR) = 3 of 3 AI-assisted PRs
          { tool: 'Copilot', prs: 3, share: 1 },
          // Claude: a3 = 1 of 3. Cursor on a5 is left out: a5 is not AI-assisted.
          { tool: 'Claude', prs: 1, share: 1 / 3 },
        ],
      },
      {
        team: 'beta',
        aiAssisted: 2,
        tools: [
          // Cursor: b1, b3 = 2 of 2
          { tool: 'Cursor', prs: 2, share: 1 },
          // CodeRabbit: b3 = 1 of 2
          { tool: 'CodeRabbit', prs: 1, share: 1 / 2 },
        ],
      },
    ]);
  });

  it('compares median cycle and review time of AI-assisted and other PRs, with counts', async () => {
    const { speed } = await teamInsights(db.dataSource.manager, {});
    expect(speed.teams).toEqual([
      {
        team: 'alpha',
        cycleTime: {
          // merged AI-assisted: a1 2h, a3 10h, a4 4h; median of 2, 4, 10 = 4
          aiAssisted: { prs: 3, medianHours: 4 },
          // merged other: a2 6h (a5 never merged)
          other: { prs: 1, medianHours: 6 },
        },
        reviewTime: {
          // reviewed AI-assisted: a1 1h, a3 2h (a4 never reviewed); median of 1, 2 = 1.5
          aiAssisted: { prs: 2, medianHours: 1.5 },
          // reviewed other: a2 3h, a5 5h; median = 4
          other: { prs: 2, medianHours: 4 },
        },
      },
      {
        team: 'beta',
        cycleTime: {
          // merged AI-assisted: b1 8h (b3 never merged)
          aiAssisted: { prs: 1, medianHours: 8 },
          // merged other: b2 12h, b4 20h; median = 16
          other: { prs: 2, medianHours: 16 },
        },
        reviewTime: {
          // b1 0.5h, b3 1h; median = 0.75
          aiAssisted: { prs: 2, medianHours: 0.75 },
          // b2 4h, b4 6h; median = 5
          other: { prs: 2, medianHours: 5 },
        },
      },
    ]);
    expect(speed.allTeams).toEqual({
      cycleTime: {
        // 2, 4, 8, 10 (a1 a4 b1 a3); median (4 + 8) / 2 = 6
        aiAssisted: { prs: 4, medianHours: 6 },
        // 6, 12, 20 (a2 b2 b4); median = 12
        other: { prs: 3, medianHours: 12 },
      },
      reviewTime: {
        // 0.5, 1, 1, 2 (b1 a1 b3 a3); median (1 + 1) / 2 = 1
        aiAssisted: { prs: 4, medianHours: 1 },
        // 3, 4, 5, 6 (a2 b2 a5 b4); median (4 + 5) / 2 = 4.5
        other: { prs: 4, medianHours: 4.5 },
      },
    });
  });

  it('with a prompt version counts only that version: a3 is not AI-assisted under V9', async () => {
    const insights = await teamInsights(db.dataSource.manager, { promptVersion: V9 });
    expect(insights.promptVersion).toBe(V9);
    // Same 9 PRs; AI-assisted a1, a4, b1, b3 = 4 / 9
    expect(insights.allTeams).toEqual({ analysed: 9, aiAssisted: 4, rate: 4 / 9 });
    // alpha January: a1 (AI), a2, a3 = 1 / 3
    expect(insights.teams[0]!.months[0]).toEqual({ month: '2025-01', analysed: 3, aiAssisted: 1, rate: 1 / 3 });
    // alpha tools: Copilot on a1 and a4 = 2 of 2; no Claude (named only by V10)
    expect(insights.tools[0]).toEqual({ team: 'alpha', aiAssisted: 2, tools: [{ tool: 'Copilot', prs: 2, share: 1 }] });
    expect(insights.speed.teams[0]).toEqual({
      team: 'alpha',
      // AI merged a1 2h, a4 4h: median 3; other merged a2 6h, a3 10h: median 8
      cycleTime: { aiAssisted: { prs: 2, medianHours: 3 }, other: { prs: 2, medianHours: 8 } },
      // AI reviewed a1 1h; other reviewed a2 3h, a3 2h, a5 5h: median of 2, 3, 5 = 3
      reviewTime: { aiAssisted: { prs: 1, medianHours: 1 }, other: { prs: 3, medianHours: 3 } },
    });

    const replay = await teamInsights(db.dataSource.manager, { promptVersion: V10 });
    // Only a3 was analysed with V10: alpha, January, AI-assisted with Claude and Copilot.
    expect(replay.allTeams).toEqual({ analysed: 1, aiAssisted: 1, rate: 1 });
    expect(replay.teams).toEqual([
      { team: 'alpha', analysed: 1, aiAssisted: 1, rate: 1, months: [{ month: '2025-01', analysed: 1, aiAssisted: 1, rate: 1 }] },
    ]);
    expect(replay.tools[0]!.tools).toEqual([
      { tool: 'Claude', prs: 1, share: 1 },
      { tool: 'Copilot', prs: 1, share: 1 },
    ]);
    expect(replay.speed.allTeams).toEqual({
      cycleTime: { aiAssisted: { prs: 1, medianHours: 10 }, other: none },
      reviewTime: { aiAssisted: { prs: 1, medianHours: 2 }, other: none },
    });
  });

  it('is empty for a prompt version nothing was analysed with', async () => {
    const insights = await teamInsights(db.dataSource.manager, { promptVersion: 'no-such-version' });
    expect(insights).toEqual({
      promptVersion: 'no-such-version',
      months: [],
      allTeams: { analysed: 0, aiAssisted: 0, rate: 0 },
      teams: [],
      tools: [],
      speed: {
        allTeams: { cycleTime: { aiAssisted: none, other: none }, reviewTime: { aiAssisted: none, other: none } },
        teams: [],
      },
    });
    expect(formatInsightsTable(insights)).toMatch(/no analysed PRs/);
    expect(renderInsightsHtml(insights)).toMatch(/No analysed PRs yet/);
  });

  it('formats the figures read from the database', async () => {
    const insights = await teamInsights(db.dataSource.manager, {});
    const table = formatInsightsTable(insights);
    expect(table).toMatch(/^ {2}alpha +2025-01 +3 +2 +66\.7 %$/m);
    expect(table).toMatch(/^ {2}beta +Cursor +2 +100\.0 %$/m);
    expect(table).toMatch(/^ {2}all teams +6\.0 h +4 +12\.0 h +3 +1\.0 h +4 +4\.5 h +4$/m);
    const html = renderInsightsHtml(insights);
    expect(html).toContain('16.0 h (n=2)');
    expect(html).not.toMatch(/https?:\/\//);
  });
});
