import type { TeamInsights } from './insights.js';
import { formatInsightsTable } from './insights-format.js';
import { renderInsightsHtml, renderInsightsSection } from './insights-html.js';

const EVIL = '<script>alert(1)</script>';

const none = { prs: 0, medianHours: null };

function sample(team = 'alpha', tool = 'Copilot'): TeamInsights {
  return {
    promptVersion: null,
    months: ['2025-01', '2025-02', '2025-03'],
    allTeams: { analysed: 7, aiAssisted: 3, rate: 3 / 7 },
    teams: [
      {
        team,
        analysed: 4,
        aiAssisted: 2,
        rate: 0.5,
        months: [
          { month: '2025-01', analysed: 3, aiAssisted: 1, rate: 1 / 3 },
          { month: '2025-03', analysed: 1, aiAssisted: 1, rate: 1 },
        ],
      },
      { team: 'a-much-longer-team-name', analysed: 3, aiAssisted: 1, rate: 1 / 3, months: [{ month: '2025-02', analysed: 3, aiAssisted: 1, rate: 1 / 3 }] },
    ],
    tools: [
      { team, aiAssisted: 2, tools: [{ tool, prs: 2, share: 1 }, { tool: 'Claude', prs: 1, share: 0.5 }] },
      { team: 'a-much-longer-team-name', aiAssisted: 1, tools: [] },
    ],
    speed: {
      allTeams: {
        cycleTime: { aiAssisted: { prs: 2, medianHours: 6 }, other: { prs: 3, medianHours: 12 } },
        reviewTime: { aiAssisted: { prs: 2, medianHours: 1.25 }, other: { prs: 4, medianHours: 4.5 } },
      },
      teams: [
        {
          team,
          cycleTime: { aiAssisted: { prs: 2, medianHours: 6 }, other: { prs: 1, medianHours: 16 } },
          reviewTime: { aiAssisted: { prs: 2, medianHours: 1.25 }, other: none },
        },
        {
          team: 'a-much-longer-team-name',
          cycleTime: { aiAssisted: none, other: { prs: 2, medianHours: 10 } },
          reviewTime: { aiAssisted: none, other: { prs: 4, medianHours: 4.5 } },
        },
      ],
    },
  };
}

const empty: TeamInsights = {
  promptVersion: 'pr-analysis-v2',
  months: [],
  allTeams: { analysed: 0, aiAssisted: 0, rate: 0 },
  teams: [],
  tools: [],
  speed: { allTeams: { cycleTime: { aiAssisted: none, other: none }, reviewTime: { aiAssisted: none, other: none } }, teams: [] },
};

describe('formatInsightsTable', () => {
  it('aligns the columns to the widest cell, long team names included', () => {
    const lines = formatInsightsTable(sample()).split('\n');
    const monthly = lines.slice(1, lines.findIndex((l) => l.startsWith('AI tools')));
    expect(monthly[0]).toBe('  team                     month    analysed  AI-assisted     rate');
    expect(monthly).toContain('  alpha                    2025-01         3            1   33.3 %');
    expect(monthly).toContain('  a-much-longer-team-name  2025-02         3            1   33.3 %');
    expect(monthly).toContain('  all teams                all             7            3   42.9 %');
    // Rates are as wide as the widest one, 100.0 % in March.
    expect(monthly).toContain('  alpha                    2025-03         1            1  100.0 %');
    // Every row of one table is as long as its header once right-aligned columns are padded.
    expect(new Set(monthly.map((l) => l.length)).size).toBe(1);
  });

  it('prints tools with their share, medians in hours with their counts, and "-" where there is no PR', () => {
    const table = formatInsightsTable(sample());
    expect(table).toMatch(/^ {2}alpha +Claude +1 +50\.0 %$/m);
    expect(table).toMatch(/^ {2}a-much-longer-team-name +\(none named\) +0 +0\.0 %$/m);
    expect(table).toMatch(/^ {2}all teams +6\.0 h +2 +12\.0 h +3 +1\.3 h +2 +4\.5 h +4$/m);
    expect(table).toMatch(/^ {2}alpha +6\.0 h +2 +16\.0 h +1 +1\.3 h +2 +- +0$/m);
    expect(table).toMatch(/^ {2}a-much-longer-team-name +- +0 +10\.0 h +2 +- +0 +4\.5 h +4$/m);
  });

  it('keeps control characters of upstream names out of the terminal', () => {
    const table = formatInsightsTable(sample('red\u001b[31m\nteam'));
    expect(table).not.toContain('\u001b');
    expect(table).toContain('red\uFFFD[31m\uFFFDteam');
  });

  it('says so when nothing was analysed', () => {
    const table = formatInsightsTable(empty);
    expect(table).toMatch(/prompt version pr-analysis-v2/);
    expect(table).toMatch(/no analysed PRs/);
  });
});

describe('renderInsightsSection', () => {
  const section = renderInsightsSection(sample());

  it('is a fragment: no document elements, and every style scoped to ins- classes', () => {
    expect(section.startsWith('<section class="ins-root">')).toBe(true);
    expect(section.trimEnd().endsWith('</section>')).toBe(true);
    expect(section).not.toMatch(/<\/?(html|head|body)\b/i);
    const css = section.match(/<style>([\s\S]*?)<\/style>/)![1]!;
    const selectors = css.split('}').flatMap((rule) => (rule.includes('{') ? rule.split('{')[0]!.split(',') : []));
    expect(selectors.length).toBeGreaterThan(5);
    for (const selector of selectors) expect(selector.trim()).toMatch(/^\.ins-/);
    for (const [, name] of section.matchAll(/class="([^"]+)"/g)) expect(name).toMatch(/^ins-/);
  });

  it('draws the three charts as inline SVG: monthly lines, tool bars, AI vs other medians with counts', () => {
    expect(section.match(/<svg /g)).toHaveLength(4);
    // alpha has January and March but no February: two points and no line across the gap.
    expect(section).toMatch(/<title>alpha 2025-01: 1 of 3 PRs AI-assisted \(33\.3 %\)<\/title>/);
    expect(section).toMatch(/<title>alpha 2025-03: 1 of 1 PRs AI-assisted \(100\.0 %\)<\/title>/);
    expect(section).not.toMatch(/<polyline/);
    expect(section).toContain('2 PRs, 100.0 %');
    expect(section).toContain('1 PRs, 50.0 %');
    expect(section).toContain('16.0 h (n=1)');
    expect(section).toContain('no PRs (n=0)');
  });

  it('joins consecutive months of a team with a line', () => {
    const insights = sample();
    insights.teams[0]!.months.splice(1, 0, { month: '2025-02', analysed: 2, aiAssisted: 0, rate: 0 });
    expect(renderInsightsSection(insights).match(/<polyline/g)).toHaveLength(1);
  });

  it('escapes team and tool names', () => {
    const hostile = renderInsightsSection(sample(EVIL, `"><img src=x onerror=alert(2)>`));
    expect(hostile).not.toContain('<script>');
    expect(hostile).not.toContain('<img');
    expect(hostile).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(hostile).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
  });

  it('says so when nothing was analysed', () => {
    expect(renderInsightsSection(empty)).toMatch(/No analysed PRs yet/);
  });
});

describe('renderInsightsHtml', () => {
  it('is one self-contained document: nothing fetched, no script at all', () => {
    const html = renderInsightsHtml(sample(), { summary: [{ label: 'coverage', value: '90 / 100 = 90.0 %' }], note: 'Read at noon' });
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html).toMatch(/<\/html>\n$/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link|@import|url\(|<img|<iframe/i);
    expect(html).toContain('<dt>coverage</dt><dd>90 / 100 = 90.0 %</dd>');
    expect(html).toContain('Read at noon');
    expect(html).toContain(renderInsightsSection(sample()));
  });

  it('renders a team named <script>alert(1)</script> as text', () => {
    const html = renderInsightsHtml(sample(EVIL), { title: EVIL, summary: [{ label: EVIL, value: EVIL }] });
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>');
    expect(html.split('&lt;script&gt;alert(1)&lt;/script&gt;').length).toBeGreaterThan(8);
  });
});
