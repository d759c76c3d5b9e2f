import type { AiVersusOther, TeamInsights } from './insights.js';
import { AI_COLOUR, colourOf, escapeHtml, medianChart, monthlyRateChart, OTHER_COLOUR, toolsChart } from './insights-charts.js';
import { hours, percent } from './insights-units.js';

export interface InsightsHtmlExtra {
  /** The page's <title> and heading */
  title?: string;
  /** Shown above the insights as label / value pairs, e.g. the run's coverage and cost */
  summary?: Array<{ label: string; value: string }>;
  /** Printed as is under the heading (say when the figures were read) */
  note?: string;
}

/**
 * The section's own styles: every selector starts with `.ins-`, so embedded in a dashboard it styles
 * nothing but itself.
 */
const SECTION_CSS = `
.ins-root { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; }
.ins-root .ins-h2 { font-size: 18px; margin: 28px 0 6px; }
.ins-root .ins-lead { color: #59636e; margin: 0 0 10px; }
.ins-root .ins-chart { display: block; max-width: 100%; height: auto; font-size: 12px; }
.ins-root .ins-chart text { fill: #1f2328; }
.ins-root .ins-chart .ins-strong { font-weight: 600; }
.ins-root .ins-chart .ins-muted { fill: #59636e; }
.ins-root .ins-chart .ins-grid { stroke: #d0d7de; stroke-width: 1; }
.ins-root .ins-legend { display: flex; flex-wrap: wrap; gap: 4px 16px; list-style: none; padding: 0; margin: 6px 0 12px; }
.ins-root .ins-swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
.ins-root .ins-table { border-collapse: collapse; margin: 8px 0 4px; font-variant-numeric: tabular-nums; }
.ins-root .ins-table th, .ins-root .ins-table td { border-bottom: 1px solid #d0d7de; padding: 3px 10px; text-align: left; }
.ins-root .ins-table .ins-num { text-align: right; }
.ins-root .ins-empty { color: #59636e; font-style: italic; }
`;

function table(headers: string[], rows: string[][], numeric: boolean[]): string {
  const cell = (tag: 'th' | 'td', value: string, column: number) => `<${tag}${numeric[column] ? ' class="ins-num"' : ''}>${escapeHtml(value)}</${tag}>`;
  return [
    '<table class="ins-table">',
    `<thead><tr>${headers.map((h, column) => cell('th', h, column)).join('')}</tr></thead>`,
    '<tbody>',
    ...rows.map((row) => `<tr>${row.map((value, column) => cell('td', value, column)).join('')}</tr>`),
    '</tbody></table>',
  ].join('\n');
}

function legend(items: Array<{ label: string; colour: string }>): string {
  const entries = items.map((i) => `<li><span class="ins-swatch" style="background:${i.colour}"></span>${escapeHtml(i.label)}</li>`);
  return `<ul class="ins-legend">${entries.join('')}</ul>`;
}

const heading = (title: string, lead: string) => `<h2 class="ins-h2">${escapeHtml(title)}</h2>\n<p class="ins-lead">${escapeHtml(lead)}</p>`;

function adoptionPart(report: TeamInsights): string[] {
  const rows = report.teams.flatMap((t) => t.months.map((m) => [t.team, m.month, String(m.analysed), String(m.aiAssisted), percent(m.rate)]));
  return [
    heading('AI-assisted PRs per month', 'Share of analysed PRs that an AI tool helped write or review, by the UTC month the PR was opened.'),
    monthlyRateChart(report),
    legend(report.teams.map((t, index) => ({ label: `${t.team}: ${t.aiAssisted} of ${t.analysed} (${percent(t.rate)})`, colour: colourOf(index) }))),
    table(['team', 'month', 'analysed', 'AI-assisted', 'rate'], rows, [false, false, true, true, true]),
  ];
}

function toolsPart(report: TeamInsights): string[] {
  const rows = report.tools.flatMap((t) => t.tools.map((tool) => [t.team, tool.tool, String(tool.prs), percent(tool.share)]));
  return [
    heading('AI tools per team', "PRs naming each tool, as a share of the team's AI-assisted PRs (a PR may name several)."),
    report.tools.length ? toolsChart(report) : '<p class="ins-empty">No AI-assisted PRs.</p>',
    rows.length ? table(['team', 'tool', 'PRs', 'share'], rows, [false, false, true, true]) : '',
  ];
}

function speedPart(report: TeamInsights): string[] {
  const figures = (f: AiVersusOther) => [hours(f.aiAssisted.medianHours), String(f.aiAssisted.prs), hours(f.other.medianHours), String(f.other.prs)];
  const rows = [
    ['all teams', ...figures(report.speed.allTeams.cycleTime), ...figures(report.speed.allTeams.reviewTime)],
    ...report.speed.teams.map((t) => [t.team, ...figures(t.cycleTime), ...figures(t.reviewTime)]),
  ];
  return [
    heading('Cycle time', 'Median hours from opened to merged, merged PRs only; n is the number of PRs behind each median.'),
    legend([
      { label: 'AI-assisted', colour: AI_COLOUR },
      { label: 'other', colour: OTHER_COLOUR },
    ]),
    medianChart(report, 'cycleTime', 'Median cycle time in hours, AI-assisted versus other PRs'),
    heading('Review time', 'Median hours from opened to the first review, reviewed PRs only.'),
    medianChart(report, 'reviewTime', 'Median review time in hours, AI-assisted versus other PRs'),
    table(
      ['team', 'cycle AI', 'n', 'cycle other', 'n', 'review AI', 'n', 'review other', 'n'],
      rows,
      [false, true, true, true, true, true, true, true, true],
    ),
  ];
}

/** The insights as an HTML fragment (no <html>, <body> or unscoped CSS): for the file below and for a dashboard. */
export function renderInsightsSection(report: TeamInsights): string {
  const scope = report.promptVersion ? `Prompt version ${report.promptVersion}.` : 'Latest successful analysis of each PR.';
  const parts =
    report.teams.length === 0
      ? [`<p class="ins-empty">No analysed PRs yet.</p>`]
      : [...adoptionPart(report), ...toolsPart(report), ...speedPart(report)];
  return [
    '<section class="ins-root">',
    `<style>${SECTION_CSS}</style>`,
    `<p class="ins-lead">${escapeHtml(`${scope} ${report.allTeams.analysed} analysed PRs, ${report.allTeams.aiAssisted} AI-assisted (${percent(report.allTeams.rate)}).`)}</p>`,
    ...parts.filter(Boolean),
    '</section>',
  ].join('\n');
}

/** One self-contained page: inline CSS and SVG, nothing fetched, so it can be mailed or opened from disk. */
export function renderInsightsHtml(report: TeamInsights, extra: InsightsHtmlExtra = {}): string {
  const title = extra.title ?? 'Cascade team insights';
  const summary = extra.summary?.length
    ? `<dl class="ins-summary">${extra.summary.map((s) => `<div><dt>${escapeHtml(s.label)}</dt><dd>${escapeHtml(s.value)}</dd></div>`).join('')}</dl>`
    : '';
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>',
    'body { margin: 24px auto; max-width: 980px; padding: 0 16px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; }',
    'h1 { font-size: 22px; margin: 0 0 4px; }',
    '.ins-note { color: #59636e; margin: 0 0 12px; }',
    '.ins-summary { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 12px 0; padding: 10px 14px; background: #f6f8fa; border-radius: 6px; }',
    '.ins-summary dt { color: #59636e; font-size: 12px; }',
    '.ins-summary dd { margin: 0; font-weight: 600; }',
    '</style>',
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    extra.note ? `<p class="ins-note">${escapeHtml(extra.note)}</p>` : '',
    summary,
    renderInsightsSection(report),
    '</body>',
    '</html>',
  ]
    .filter(Boolean)
    .join('\n')
    .concat('\n');
}
