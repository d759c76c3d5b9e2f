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

/** One model and pass of the billed cost: what the provider bills for its finished batches. */
export interface BilledCostRow {
  model: string;
  pass: number;
  /** `batch`: provider batches at the batch price; `on_demand`: answers made past a deadline at full price. */
  mode: 'batch' | 'on_demand';
  batches: number;
  answeredLines: number;
  failedLines: number;
  estimatedLines: number;
  answeredUsd: number;
  failedAttemptsUsd: number;
  estimatedUsd: number;
  totalUsd: number;
}

/**
 * The run's cost on the provider's basis: every finished batch's bill, split into answered lines, failed
 * attempts that reported usage, and billed failed lines without usage (prompt tokens estimated from the
 * request sent; their completion tokens are unknowable, so that part is a floor).
 */
export interface BilledCostReport {
  basis: 'billed';
  totalUsd: number;
  answeredUsd: number;
  failedAttemptsUsd: number;
  estimatedUsd: number;
  estimatedLines: number;
  estimatedPromptTokens: number;
  estimatedCompletionTokens: number;
  /** Batches still at the provider are not billed yet and not counted. */
  batchesNotFinished: number;
  byModel: BilledCostRow[];
  /** What is estimated, and how, in words (printed with the figures). */
  estimatedNote: string;
  /** The part of the total paid on demand for requests past their deadline (DEADLINES=on), counted apart. */
  onDemand: OnDemandCost;
}

/** Requests answered through the provider's on-demand API past their deadline, at full price. */
export interface OnDemandCost {
  batches: number;
  /** Requests called on demand (each call of a finished on-demand batch). */
  requests: number;
  /** Terminal records answered by an on-demand call. */
  succeeded: number;
  totalUsd: number;
  /** What the provider batches cost, on-demand calls left out: `totalUsd` of the report is both. */
  batchUsd: number;
  /** Lines left in provider batches by requests answered on demand: billed with their batch, never recorded. */
  supersededLines: number;
}

export interface RunReport {
  promptVersion: string | null;
  teams: TeamCoverage[];
  aiTools: Array<{ tool: string; prs: number; share: number }>;
  passOneFailures: Array<{ code: string; count: number }>;
  recoveredByLaterPasses: number;
  permanentFailures: Array<{ code: string; count: number; example: string }>;
  /** The answers kept in `results` per model and pass, with the cost of the attempt that answered. */
  byModel: Array<{ model: string; pass: number; results: number; promptTokens: number; completionTokens: number; costUsd: number }>;
  /** The total the provider bills (`cost.totalUsd`). */
  costUsd: number;
  cost: BilledCostReport;
  strongModel: string;
  /** What the provider would bill on the same basis had every request gone once to the strong model. */
  alwaysStrongCostUsd: number;
  alwaysStrongBasis: string;
  reconcile: ReconcileReport;
}

/** The outcome of a run, from the database: coverage, AI adoption, failures and recovery, cost. */
export async function runReport(
  manager: EntityManager,
  options: { promptVersion?: string; strongModel: string; strongPrice: ModelPrice; defaultStageDeadlineMs: number; strandedAfterMs?: number; defaultPromptVersion?: string },
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
  const { cost, alwaysStrongCostUsd } = await billedCost(manager, pv, options.strongPrice);
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
    costUsd: cost.totalUsd,
    cost,
    strongModel: options.strongModel,
    alwaysStrongCostUsd,
    alwaysStrongBasis: ALWAYS_STRONG_BASIS,
    reconcile: await reconcile(manager, { defaultStageDeadlineMs: options.defaultStageDeadlineMs, strandedAfterMs: options.strandedAfterMs, defaultPromptVersion: options.defaultPromptVersion, listLimit: 100 }),
  };
}

const ESTIMATED_NOTE =
  'failed lines the provider bills without reporting usage (json_validate_failed, output too long, lines dropped or cut short): ' +
  "prompt tokens estimated from the request sent, scaled to the provider's count by the batch's answered lines; " +
  'completion tokens as the mean of the batch\'s answers (the whole max_tokens for an answer cut at it): the provider does not report them';

export const ALWAYS_STRONG_BASIS =
  'billed, as the total: every first-pass line (each request sent once), with its billed tokens (known or estimated), at the strong model\'s batch price';

/**
 * The billed cost over finished batches, and always-strong on the same basis: the first pass sends each
 * request once, so its lines' billed tokens (answers, failed attempts' usage, estimated prompts) priced at
 * the strong model are what sending every request once to the strong model would be billed.
 */
async function billedCost(manager: EntityManager, pv: string | null, strongPrice: ModelPrice): Promise<{ cost: BilledCostReport; alwaysStrongCostUsd: number }> {
  const rows: Array<Record<string, unknown>> = await manager.query(
    `SELECT model, pass, mode, count(*)::int AS batches,
            sum(answered_lines)::int AS "answeredLines", sum(failed_lines)::int AS "failedLines", sum(estimated_lines)::int AS "estimatedLines",
            sum(answered_cost_usd)::float8 AS "answeredUsd", sum(failed_cost_usd)::float8 AS "failedAttemptsUsd",
            sum(estimated_cost_usd)::float8 AS "estimatedUsd", sum(cost_usd)::float8 AS "totalUsd",
            sum(estimated_prompt_tokens)::float8 AS "estimatedPromptTokens",
            sum(estimated_completion_tokens)::float8 AS "estimatedCompletionTokens",
            sum(answered_prompt_tokens + failed_prompt_tokens + estimated_prompt_tokens)::float8 AS "promptTokens",
            sum(answered_completion_tokens + failed_completion_tokens + estimated_completion_tokens)::float8 AS "completionTokens"
     FROM batches WHERE state = 'finished' AND ($1::text IS NULL OR prompt_version = $1)
     GROUP BY model, pass, mode ORDER BY mode, pass, model`,
    [pv],
  );
  const [{ unfinished }] = await manager.query(
    `SELECT count(*)::int AS unfinished FROM batches WHERE state IN ('creating', 'submitted') AND ($1::text IS NULL OR prompt_version = $1)`,
    [pv],
  );
  const byModel: BilledCostRow[] = rows.map((row) => ({
    model: String(row.model),
    pass: Number(row.pass),
    mode: row.mode === 'on_demand' ? 'on_demand' : 'batch',
    batches: Number(row.batches),
    answeredLines: Number(row.answeredLines),
    failedLines: Number(row.failedLines),
    estimatedLines: Number(row.estimatedLines),
    answeredUsd: Number(row.answeredUsd),
    failedAttemptsUsd: Number(row.failedAttemptsUsd),
    estimatedUsd: Number(row.estimatedUsd),
    totalUsd: Number(row.totalUsd),
  }));
  const sum = (pick: (row: Record<string, unknown>) => unknown) => rows.reduce((total, row) => total + Number(pick(row)), 0);
  // On-demand calls repeat requests whose batch line was already billed: the comparison reads provider batches only.
  const firstPass = rows.filter((row) => Number(row.pass) === 1 && row.mode !== 'on_demand');
  const onDemandRows = byModel.filter((row) => row.mode === 'on_demand');
  const [onDemand] = await manager.query(
    `SELECT (SELECT count(*)::int FROM results res
               JOIN attempts a ON a.request_id = res.request_id AND a.prompt_version = res.prompt_version AND a.attempt = res.attempt
               JOIN batches b ON b.batch_id = a.batch_id
             WHERE res.status = 'succeeded' AND b.mode = 'on_demand' AND ($1::text IS NULL OR res.prompt_version = $1)) AS succeeded,
            (SELECT coalesce(sum(request_count), 0)::int FROM batches
             WHERE mode = 'on_demand' AND state = 'finished' AND ($1::text IS NULL OR prompt_version = $1)) AS requests,
            (SELECT count(*)::int FROM batch_items i JOIN batches b ON b.batch_id = i.batch_id
             WHERE i.superseded_by IS NOT NULL AND b.state = 'finished' AND ($1::text IS NULL OR b.prompt_version = $1)) AS superseded`,
    [pv],
  );
  const alwaysStrongCostUsd = firstPass.reduce(
    (total, row) => total + (Number(row.promptTokens) * strongPrice.inputPerMillion + Number(row.completionTokens) * strongPrice.outputPerMillion) / 1e6,
    0,
  );
  return {
    cost: {
      basis: 'billed',
      totalUsd: sum((row) => row.totalUsd),
      answeredUsd: sum((row) => row.answeredUsd),
      failedAttemptsUsd: sum((row) => row.failedAttemptsUsd),
      estimatedUsd: sum((row) => row.estimatedUsd),
      estimatedLines: sum((row) => row.estimatedLines),
      estimatedPromptTokens: sum((row) => row.estimatedPromptTokens),
      estimatedCompletionTokens: sum((row) => row.estimatedCompletionTokens),
      batchesNotFinished: Number(unfinished),
      byModel,
      estimatedNote: ESTIMATED_NOTE,
      onDemand: {
        batches: onDemandRows.reduce((n, row) => n + row.batches, 0),
        requests: Number(onDemand.requests),
        succeeded: Number(onDemand.succeeded),
        totalUsd: onDemandRows.reduce((n, row) => n + row.totalUsd, 0),
        batchUsd: sum((row) => (row.mode === 'on_demand' ? 0 : row.totalUsd)),
        supersededLines: Number(onDemand.superseded),
      },
    },
    alwaysStrongCostUsd,
  };
}

const pct = (value: number) => `${(value * 100).toFixed(1)} %`;
const usd = (value: number) => `$${value.toFixed(4)}`;

/** The billed cost of one provider: the sum of its models' rows. */
export interface ProviderCostRow {
  provider: string;
  models: string[];
  batches: number;
  totalUsd: number;
}

/** `cost.byModel` summed per provider, in the order the providers first appear (pass order). */
export function billedCostByProvider(cost: BilledCostReport, providerOf: (model: string) => string): ProviderCostRow[] {
  const rows = new Map<string, ProviderCostRow>();
  for (const m of cost.byModel) {
    const provider = providerOf(m.model);
    const row = rows.get(provider) ?? { provider, models: [], batches: 0, totalUsd: 0 };
    if (!row.models.includes(m.model)) row.models.push(m.model);
    row.batches += m.batches;
    row.totalUsd += m.totalUsd;
    rows.set(provider, row);
  }
  return [...rows.values()];
}

/**
 * The report as text. With `providerOf` (the model id's provider; the ledger does not know the naming rule),
 * the billed cost is also summed per provider.
 */
export function formatRunReport(report: RunReport, options: { providerOf?: (model: string) => string } = {}): string {
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
  out.push('Answers by model and pass (the attempt that answered)');
  for (const m of report.byModel) {
    out.push(`  pass ${m.pass}  ${m.model.padEnd(28)} ${String(m.results).padStart(6)} results  ${m.promptTokens} in / ${m.completionTokens} out tokens  ${usd(m.costUsd)}`);
  }
  const cost = report.cost;
  out.push('Billed cost by model and pass (what the provider bills: answered + failed attempts + estimated)');
  for (const m of cost.byModel) {
    out.push(
      `  pass ${m.pass}  ${m.model.padEnd(28)}${m.mode === 'on_demand' ? ' on demand' : ''} ${String(m.batches).padStart(4)} batches  answered ${m.answeredLines} ${usd(m.answeredUsd)}  failed attempts ${m.failedLines} ${usd(m.failedAttemptsUsd)}  estimated ${m.estimatedLines} ${usd(m.estimatedUsd)}  total ${usd(m.totalUsd)}`,
    );
  }
  if (options.providerOf) {
    out.push('Billed cost by provider');
    for (const p of billedCostByProvider(cost, options.providerOf)) {
      out.push(`  ${p.provider.padEnd(10)} ${String(p.batches).padStart(4)} batches  ${usd(p.totalUsd)}  (${p.models.join(', ')})`);
    }
  }
  out.push(
    `Total billed ${usd(cost.totalUsd)} = answered ${usd(cost.answeredUsd)} + failed attempts ${usd(cost.failedAttemptsUsd)} + estimated ${usd(cost.estimatedUsd)}` +
      (cost.batchesNotFinished > 0 ? ` (${cost.batchesNotFinished} batch(es) not finished yet, not counted)` : ''),
  );
  if (cost.onDemand.batches > 0) {
    const od = cost.onDemand;
    out.push(
      `On demand (past their deadline, full price): ${od.requests} request(s) called in ${od.batches} on-demand batch(es), ${od.succeeded} answered, ${usd(od.totalUsd)}; ` +
        `total billed ${usd(cost.totalUsd)} = batches ${usd(od.batchUsd)} + on demand ${usd(od.totalUsd)}; ` +
        `${od.supersededLines} line(s) they left in provider batches billed with those batches, not recorded`,
    );
  }
  out.push(`  estimated: ${cost.estimatedLines} lines, ${cost.estimatedPromptTokens} prompt and ${cost.estimatedCompletionTokens} completion tokens; ${cost.estimatedNote}`);
  const ratio = report.alwaysStrongCostUsd > 0 ? report.costUsd / report.alwaysStrongCostUsd : 0;
  out.push(
    `Total billed ${usd(report.costUsd)} vs always ${report.strongModel} ${usd(report.alwaysStrongCostUsd)} (${pct(ratio)} of it)`,
  );
  out.push(`  always-strong basis: ${report.alwaysStrongBasis}`);
  const r = report.reconcile;
  out.push(
    `Reconcile: ${ledgerEquation(r)}; lost: ${r.lost.length}; stranded: ${r.stranded}; stuck: ${r.stuck}`,
  );
  return out.join('\n');
}
