import type { AiVersusOther, SpeedComparison, TeamInsights } from './insights.js';
import { hours, percent } from './insights-units.js';

type Align = 'left' | 'right';

/**
 * Team, repo and tool names come from upstream: a control character (an ANSI escape, a newline) would
 * repaint the operator's terminal or break the columns, so it is shown as U+FFFD.
 */
// eslint-disable-next-line no-control-regex
const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\uFFFD');

/** Columns as wide as their widest cell, two spaces apart, indented like the run report. */
function textTable(headers: string[], rows: string[][], align: Align[]): string[] {
  const cells = [headers, ...rows].map((row) => row.map(printable));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  return cells.map(
    (row) => `  ${row.map((cell, column) => (align[column] === 'right' ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ')}`.trimEnd(),
  );
}

const pair = (figures: AiVersusOther) => [
  hours(figures.aiAssisted.medianHours),
  String(figures.aiAssisted.prs),
  hours(figures.other.medianHours),
  String(figures.other.prs),
];

const speedRow = (label: string, speed: SpeedComparison) => [label, ...pair(speed.cycleTime), ...pair(speed.reviewTime)];

export function formatInsightsTable(report: TeamInsights): string {
  const out: string[] = [];
  const scope = report.promptVersion ? ` (prompt version ${report.promptVersion})` : '';
  out.push(`AI-assisted PRs per team and month (UTC month the PR was opened; analysed PRs only)${scope}`);
  if (report.teams.length === 0) out.push('  no analysed PRs');
  else {
    const rows = report.teams.flatMap((t) => [
      ...t.months.map((m) => [t.team, m.month, String(m.analysed), String(m.aiAssisted), percent(m.rate)]),
      [t.team, 'all', String(t.analysed), String(t.aiAssisted), percent(t.rate)],
    ]);
    rows.push(['all teams', 'all', String(report.allTeams.analysed), String(report.allTeams.aiAssisted), percent(report.allTeams.rate)]);
    out.push(...textTable(['team', 'month', 'analysed', 'AI-assisted', 'rate'], rows, ['left', 'left', 'right', 'right', 'right']));
  }

  out.push("AI tools per team (PRs naming the tool; share of the team's AI-assisted PRs)");
  if (report.tools.length === 0) out.push('  none');
  else {
    const rows = report.tools.flatMap((t) =>
      t.tools.length ? t.tools.map((tool) => [t.team, tool.tool, String(tool.prs), percent(tool.share)]) : [[t.team, '(none named)', '0', percent(0)]],
    );
    out.push(...textTable(['team', 'tool', 'PRs', 'share'], rows, ['left', 'left', 'right', 'right']));
  }

  out.push('Median hours, AI-assisted vs other: cycle time (opened -> merged, merged PRs), review time (opened -> first review, reviewed PRs)');
  out.push(
    ...textTable(
      ['team', 'cycle AI', 'n', 'cycle other', 'n', 'review AI', 'n', 'review other', 'n'],
      [speedRow('all teams', report.speed.allTeams), ...report.speed.teams.map((t) => speedRow(t.team, t))],
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  return out.join('\n');
}
