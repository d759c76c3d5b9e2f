import { modelRefOf } from '#batching';
import { formatInsightsTable, formatRunReport, renderInsightsHtml, type RunReport, type TeamInsights } from '#ledger';
import { formatRouterReport, type RouterVersionReport } from '#routing';

export const REPORT_FORMATS = ['table', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function parseReportFormat(value: string): ReportFormat {
  const format = REPORT_FORMATS.find((f) => f === value);
  if (!format) throw new Error(`--format must be ${REPORT_FORMATS.join(', ')}, got "${value}"`);
  return format;
}

const pct = (value: number) => `${(value * 100).toFixed(1)} %`;
const usd = (value: number) => `$${value.toFixed(4)}`;

/** The few run figures a reader of the insights page wants beside them: how complete the data is, what it cost. */
export function runSummary(run: RunReport): Array<{ label: string; value: string }> {
  const total = run.teams.reduce(
    (sum, t) => ({ ingested: sum.ingested + t.ingested, processable: sum.processable + t.processable, analysed: sum.analysed + t.analysed }),
    { ingested: 0, processable: 0, analysed: 0 },
  );
  return [
    { label: 'prompt version', value: run.promptVersion ?? 'all' },
    { label: 'ingested PRs', value: String(total.ingested) },
    {
      label: 'coverage (analysed / processable)',
      value: `${total.analysed} / ${total.processable} = ${pct(total.processable ? total.analysed / total.processable : 0)}`,
    },
    {
      label: 'cost billed (answered + failed attempts + estimated)',
      value: `${usd(run.cost.totalUsd)} = ${usd(run.cost.answeredUsd)} + ${usd(run.cost.failedAttemptsUsd)} + ${usd(run.cost.estimatedUsd)} (${run.cost.estimatedLines} lines estimated)`,
    },
    { label: `always ${run.strongModel}, same basis`, value: usd(run.alwaysStrongCostUsd) },
    { label: 'in flight / lost', value: `${run.reconcile.inFlight} / ${run.reconcile.lost.length}` },
  ];
}

/** The run report as `demo`, `run` and `report` print it, the billed cost also summed per provider. */
export function runReportText(run: RunReport): string {
  return formatRunReport(run, { providerOf: (model) => modelRefOf(model).provider });
}

/** What `cascade report` prints (or writes with --out) for each format. */
export function renderReport(format: ReportFormat, run: RunReport, insights: TeamInsights, router: readonly RouterVersionReport[] = [], now = new Date()): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify({ run, insights, router }, null, 2)}\n`;
    case 'html':
      return renderInsightsHtml(insights, { title: 'Cascade team insights', note: `Read from the database at ${now.toISOString()}`, summary: runSummary(run) });
    case 'table':
      return `${runReportText(run)}\n${formatRouterReport(router)}\n\n${formatInsightsTable(insights)}\n`;
  }
}
