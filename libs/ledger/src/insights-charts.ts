import type { AiVersusOther, TeamInsights } from './insights.js';
import { hours, percent } from './insights-units.js';

/**
 * Inline SVG charts for the insights, drawn as strings: no script, no font or image to fetch, so the
 * page works from a file and inside a dashboard alike. Every name in them comes from upstream data
 * and goes through `escapeHtml`; the SVG carries no xmlns (inline SVG in HTML needs none).
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe in text and in quoted attribute values. */
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => ENTITIES[char]!);

/** Shortens a label for a fixed column (by code point, so no emoji is cut in half); the full name goes in a <title>. */
export function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export const AI_COLOUR = '#4e79a7';
export const OTHER_COLOUR = '#bab0ac';

export const colourOf = (index: number) => PALETTE[index % PALETTE.length]!;

const num = (value: number) => String(Math.round(value * 10) / 10);

function svg(width: number, height: number, label: string, body: string[]): string {
  return [
    `<svg class="ins-chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(label)}">`,
    ...body,
    '</svg>',
  ].join('\n');
}

const text = (x: number, y: number, content: string, attributes = '') =>
  `<text x="${num(x)}" y="${num(y)}"${attributes ? ` ${attributes}` : ''}>${escapeHtml(content)}</text>`;

/** Monthly AI-assisted rate per team: a line per team over the shared months, broken where a team has no PR. */
export function monthlyRateChart(report: TeamInsights): string {
  const [width, height, left, right, top, bottom] = [680, 280, 52, 36, 14, 40];
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const months = report.months;
  const x = (index: number) => (months.length === 1 ? left + plotWidth / 2 : left + (index * plotWidth) / (months.length - 1));
  const y = (rate: number) => top + plotHeight * (1 - rate);
  const body: string[] = [];
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    body.push(`<line class="ins-grid" x1="${left}" x2="${width - right}" y1="${num(y(tick))}" y2="${num(y(tick))}"/>`);
    body.push(text(left - 6, y(tick) + 4, `${tick * 100} %`, 'text-anchor="end"'));
  }
  const every = Math.max(1, Math.ceil(months.length / 12));
  months.forEach((month, index) => {
    if (index % every === 0) body.push(text(x(index), height - bottom + 18, month, 'text-anchor="middle"'));
  });
  report.teams.forEach((team, teamIndex) => {
    const colour = colourOf(teamIndex);
    const points = team.months.map((m) => ({ ...m, index: months.indexOf(m.month) }));
    for (const run of consecutiveRuns(points)) {
      if (run.length > 1) {
        const path = run.map((p) => `${num(x(p.index))},${num(y(p.rate))}`).join(' ');
        body.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${path}"/>`);
      }
    }
    for (const p of points) {
      const tip = `${team.team} ${p.month}: ${p.aiAssisted} of ${p.analysed} PRs AI-assisted (${percent(p.rate)})`;
      body.push(`<circle cx="${num(x(p.index))}" cy="${num(y(p.rate))}" r="4" fill="${colour}"><title>${escapeHtml(tip)}</title></circle>`);
    }
  });
  return svg(width, height, 'AI-assisted rate per team and month', body);
}

function consecutiveRuns<T extends { index: number }>(points: T[]): T[][] {
  const runs: T[][] = [];
  for (const point of points) {
    const last = runs.at(-1);
    if (last && last.at(-1)!.index === point.index - 1) last.push(point);
    else runs.push([point]);
  }
  return runs;
}

const LABEL_WIDTH = 170;
const BAR_WIDTH = 360;
const CHART_WIDTH = LABEL_WIDTH + BAR_WIDTH + 150;

/** Per team, a bar per tool: its share of the team's AI-assisted PRs. Colours follow the tool across teams. */
export function toolsChart(report: TeamInsights): string {
  const tools = [...new Set(report.tools.flatMap((t) => t.tools.map((tool) => tool.tool)))].sort();
  const body: string[] = [];
  let y = 4;
  for (const team of report.tools) {
    y += 18;
    body.push(
      `<text class="ins-strong" x="0" y="${y}"><title>${escapeHtml(team.team)}</title>${escapeHtml(clip(team.team, 40))}` +
        `<tspan class="ins-muted" dx="8">${team.aiAssisted} AI-assisted PRs</tspan></text>`,
    );
    if (team.tools.length === 0) {
      y += 18;
      body.push(text(12, y, 'no tool named', 'class="ins-muted"'));
    }
    for (const tool of team.tools) {
      y += 18;
      const length = Math.max(1, tool.share * BAR_WIDTH);
      body.push(
        `<text x="12" y="${y}"><title>${escapeHtml(tool.tool)}</title>${escapeHtml(clip(tool.tool, 24))}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y - 11}" width="${num(length)}" height="13" fill="${colourOf(tools.indexOf(tool.tool))}"/>`,
        text(LABEL_WIDTH + length + 6, y, `${tool.prs} PRs, ${percent(tool.share)}`),
      );
    }
    y += 8;
  }
  return svg(CHART_WIDTH, y + 4, "AI tools per team, share of the team's AI-assisted PRs", body);
}

/** Median hours for AI-assisted and other PRs, all teams first, each bar labelled with its PR count. */
export function medianChart(report: TeamInsights, metric: 'cycleTime' | 'reviewTime', title: string): string {
  const groups: Array<{ label: string; figures: AiVersusOther }> = [
    { label: 'all teams', figures: report.speed.allTeams[metric] },
    ...report.speed.teams.map((t) => ({ label: t.team, figures: t[metric] })),
  ];
  const longest = Math.max(0, ...groups.flatMap((g) => [g.figures.aiAssisted.medianHours ?? 0, g.figures.other.medianHours ?? 0]));
  const body: string[] = [];
  let y = 4;
  for (const group of groups) {
    y += 18;
    body.push(`<text class="ins-strong" x="0" y="${y}"><title>${escapeHtml(group.label)}</title>${escapeHtml(clip(group.label, 40))}</text>`);
    for (const [name, figure, colour] of [
      ['AI-assisted', group.figures.aiAssisted, AI_COLOUR],
      ['other', group.figures.other, OTHER_COLOUR],
    ] as const) {
      y += 18;
      const median = figure.medianHours;
      const length = median !== null && longest > 0 ? Math.max(1, (Math.max(0, median) / longest) * BAR_WIDTH) : 0;
      body.push(text(12, y, name));
      if (length > 0) body.push(`<rect x="${LABEL_WIDTH}" y="${y - 11}" width="${num(length)}" height="13" fill="${colour}"/>`);
      body.push(text(LABEL_WIDTH + length + 6, y, median === null ? `no PRs (n=0)` : `${hours(median)} (n=${figure.prs})`));
    }
    y += 8;
  }
  return svg(CHART_WIDTH, y + 4, title, body);
}
