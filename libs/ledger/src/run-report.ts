import type { EntityManager } from 'typeorm';
import { ledgerEquation, reconcile, type ReconcileReport } from './reconcile.js';

export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

export interface TeamCoverage {
  team: string;
  ingested: number;
  excluded: number;
  processable: number;
  analysed: number;
  failed: number;
  inFlight: number;
  /** analysed / processable */
  coverage: number;
  aiAssisted: number;
  aiAssistedRate: number;
}

export interface RunReport {
  promptVersion: string | null;
  teams: TeamCoverage[];
  aiTools: Array<{ tool: string; prs: number; share: number }>;
  passOneFailures: Array<{ code: string; count: number }>;
  recoveredByLaterPasses: number;
  permanentFailures: Array<{ code: string; count: number; example: string }>;
  byModel: Array<{ model: string; pass: number; results: number; promptTokens: number; completionTokens: number; costUsd: number }>;
  costUsd: number;
  strongModel: string;
  alwaysStrongCostUsd: number;
  reconcile: ReconcileReport;
}

/** The outcome of a run, from the database: coverage, AI adoption, failures and recovery, cost. */
export async function runReport(
  manager: EntityManager,
  options: { promptVersion?: string; strongModel: string; strongPrice: ModelPrice; defaultStageDeadlineMs: number; strandedAfterMs?: number },
): Promise<RunReport> {
  const pv = options.promptVersion ?? null;
  const teams: Array<Omit<TeamCoverage, 'coverage' | 'aiAssistedRate'>> = await manager.query(
    `SELECT r.team,
            count(*)::int AS ingested,
            count(*) FILTER (WHERE r.status = 'excluded')::int AS excluded,
            count(*) FILTER (WHERE r.status <> 'excluded')::int AS processable,
            count(*) FILTER (WHERE r.status = 'succeeded')::int AS analysed,
            count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
            count(*) FILTER (WHERE r.status IN ('pending', 'in_flight'))::int AS "inFlight",
            count(*) FILTER (WHERE r.status = 'succeeded' AND (res.analysis->>'ai_assisted')::boolean)::int AS "aiAssisted"
     FROM requests r
     LEFT JOIN results res ON res.request_id = r.request_id AND res.prompt_version = r.prompt_version
     WHERE ($1::text IS NULL OR r.prompt_version = $1)
     GROUP BY r.team ORDER BY r.team`,
    [pv],
  );
  const tools: Array<{ tool: string; prs: number }> = await manager.query(
    `SELECT tool, count(*)::int AS prs FROM results, jsonb_array_elements_text(analysis->'ai_tools') AS tool
     WHERE status = 'succeeded' AND ($1::text IS NULL OR prompt_version = $1)
     GROUP BY tool ORDER BY prs DESC, tool`,
    [pv],
  );
  const toolTotal = tools.reduce((sum, t) => sum + t.prs, 0);
  const passOneFailures = await manager.query(
    `SELECT code, count(*)::int AS count FROM attempts
     WHERE outcome = 'failed' AND pass = 1 AND ($1::text IS NULL OR prompt_version = $1)
     GROUP BY code ORDER BY count DESC, code`,
    [pv],
  );
  const [{ recovered }] = await manager.query(
    `SELECT count(*)::int AS recovered FROM results
     WHERE status = 'succeeded' AND pass >= 2 AND ($1::text IS NULL OR prompt_version = $1)`,
    [pv],
  );
  const permanentFailures = await manager.query(
    `SELECT error_code AS code, count(*)::int AS count, min(error_message) AS example FROM results
     WHERE status = 'failed' AND ($1::text IS NULL OR prompt_version = $1)
     GROUP BY error_code ORDER BY count DESC`,
    [pv],
  );
  const byModel: Array<RunReport['byModel'][number]> = (
    await manager.query(
      `SELECT model, pass, count(*)::int AS results, sum(prompt_tokens)::bigint AS "promptTokens",
              sum(completion_tokens)::bigint AS "completionTokens", sum(cost_usd)::float8 AS "costUsd"
       FROM results WHERE status = 'succeeded' AND attempt > 0 AND ($1::text IS NULL OR prompt_version = $1)
       GROUP BY model, pass ORDER BY pass, model`,
      [pv],
    )
  ).map((row: Record<string, unknown>) => ({
    model: String(row.model),
    pass: Number(row.pass),
    results: Number(row.results),
    promptTokens: Number(row.promptTokens),
    completionTokens: Number(row.completionTokens),
    costUsd: Number(row.costUsd),
  }));
  const costUsd = byModel.reduce((sum, m) => sum + m.costUsd, 0);
  // What the same answers would have cost had every request gone to the strong model once.
  const alwaysStrongCostUsd = byModel.reduce(
    (sum, m) =>
      sum + (m.promptTokens * options.strongPrice.inputPerMillion + m.completionTokens * options.strongPrice.outputPerMillion) / 1e6,
    0,
  );
  return {
    promptVersion: pv,
    teams: teams.map((t) => ({
      ...t,
      coverage: t.processable ? t.analysed / t.processable : 0,
      aiAssistedRate: t.analysed ? t.aiAssisted / t.analysed : 0,
    })),
    aiTools: tools.map((t) => ({ ...t, share: toolTotal ? t.prs / toolTotal : 0 })),
    passOneFailures,
    recoveredByLaterPasses: recovered,
    permanentFailures,
    byModel,
    costUsd,
    strongModel: options.strongModel,
    alwaysStrongCostUsd,
    reconcile: await reconcile(manager, { defaultStageDeadlineMs: options.defaultStageDeadlineMs, strandedAfterMs: options.strandedAfterMs, listLimit: 100 }),
  };
}

const pct = (value: number) => `${(value * 100).toFixed(1)} %`;
const usd = (value: number) => `$${value.toFixed(4)}`;

export function formatRunReport(report: RunReport): string {
  const out: string[] = [];
  out.push('Coverage per team (analysed / processable; excluded never sent)');
  out.push('  team          ingested  excluded  processable  analysed  failed  coverage   AI-assisted');
  for (const t of report.teams) {
    out.push(
      `  ${t.team.padEnd(12)} ${String(t.ingested).padStart(9)} ${String(t.excluded).padStart(9)} ${String(t.processable).padStart(12)} ${String(t.analysed).padStart(9)} ${String(t.failed).padStart(7)}  ${pct(t.coverage).padStart(8)}  ${pct(t.aiAssistedRate).padStart(9)}`,
    );
  }
  const total = report.teams.reduce(
    (sum, t) => ({ ingested: sum.ingested + t.ingested, processable: sum.processable + t.processable, analysed: sum.analysed + t.analysed }),
    { ingested: 0, processable: 0, analysed: 0 },
  );
  out.push(
    `  all teams: analysed ${total.analysed} of ${total.ingested} PRs = ${pct(total.ingested ? total.analysed / total.ingested : 0)} of all, ${pct(total.processable ? total.analysed / total.processable : 0)} of the processable`,
  );
  out.push('AI tools (share of tool mentions)');
  for (const tool of report.aiTools) out.push(`  ${tool.tool.padEnd(12)} ${String(tool.prs).padStart(6)}  ${pct(tool.share)}`);
  out.push('Pass-1 failures by code');
  if (report.passOneFailures.length === 0) out.push('  none');
  for (const f of report.passOneFailures) out.push(`  ${f.code.padEnd(28)} ${f.count}`);
  out.push(`Recovered by later passes: ${report.recoveredByLaterPasses}`);
  out.push('Permanent failures');
  if (report.permanentFailures.length === 0) out.push('  none');
  for (const f of report.permanentFailures) out.push(`  ${String(f.code).padEnd(28)} ${f.count}  e.g. ${f.example}`);
  out.push('Cost by model and pass');
  for (const m of report.byModel) {
    out.push(`  pass ${m.pass}  ${m.model.padEnd(28)} ${String(m.results).padStart(6)} results  ${m.promptTokens} in / ${m.completionTokens} out tokens  ${usd(m.costUsd)}`);
  }
  const ratio = report.alwaysStrongCostUsd > 0 ? report.costUsd / report.alwaysStrongCostUsd : 0;
  out.push(
    `Total cost ${usd(report.costUsd)} vs always ${report.strongModel} ${usd(report.alwaysStrongCostUsd)} (${pct(ratio)} of it)`,
  );
  const r = report.reconcile;
  out.push(
    `Reconcile: ${ledgerEquation(r)}; lost: ${r.lost.length}; stranded: ${r.stranded}; stuck: ${r.stuck}`,
  );
  return out.join('\n');
}
