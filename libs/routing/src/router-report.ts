import { classifyFailure, type PriceTable, priceOf } from '#groq-batch';
import type { EntityManager } from 'typeorm';
import type { RoutingMetrics } from './training.js';

/**
 * What a pass-1 attempt on the first model says to the router: it succeeded, it failed with output a
 * stronger model fixes (invalid output, output too long), or nothing (transient and permanent failures:
 * a stronger model changes nothing for them). Training and the report label attempts with this one rule.
 */
export function routingLabel(attempt: { outcome: string; code: string | null; message: string | null; httpStatus: number | null }): 'failed' | 'succeeded' | null {
  if (attempt.outcome === 'succeeded') return 'succeeded';
  const failureClass = classifyFailure({ code: attempt.code ?? '', message: attempt.message, httpStatus: attempt.httpStatus });
  return failureClass === 'invalid_output' || failureClass === 'output_too_long' ? 'failed' : null;
}

/** Decisions recorded under `shadow`: every request ran on the first model, so each flag can be checked against what happened. */
export interface ShadowFigures {
  scored: number;
  /** Scored above the threshold: would have started on the next model. */
  flagged: number;
  /** Requests whose pass-1 attempt on the first model is labelled (succeeded, or failed with output a stronger model fixes). */
  labelled: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  /** Pass-2 attempts the flags would have saved (the true positives). */
  savedFromPass2: number;
  /**
   * Dollars routing would have saved (negative: cost), estimated: a true positive saves its attempt on the
   * first model, a false positive costs its answer at the next model's price instead of the first's; both
   * priced from the tokens of the request's answer.
   */
  estimatedEffectUsd: number;
}

/** Decisions recorded under `learned`: routed requests never ran on the first model, so their effect is an expectation. */
export interface LearnedFigures {
  scored: number;
  routed: number;
  /** Requests started on the first model that failed there with output the next model fixes: the failures the router missed. */
  missedFailures: number;
  /** What the routed requests' answers cost. */
  routedUsd: number;
  /** What they would have cost cheap-first, expected from their scores: the first model's answer, plus, with p(fail), the next model's. */
  expectedCheapFirstUsd: number;
  /** expectedCheapFirstUsd − routedUsd (negative: routing cost more than expected cheap-first). */
  expectedEffectUsd: number;
}

export interface RouterVersionReport {
  version: number;
  trainedAt: string;
  cheapModel: string;
  strongModel: string;
  threshold: number;
  preference: string;
  holdout: RoutingMetrics;
  shadow: ShadowFigures | null;
  learned: LearnedFigures | null;
}

interface DecisionGroup {
  version: number;
  mode: 'shadow' | 'learned';
  decision: 'routed' | 'cheap_first';
  outcome: string | null;
  code: string | null;
  message: string | null;
  http_status: number | null;
  requests: number;
  score_sum: number;
  answered: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  score_prompt: number;
  score_completion: number;
}

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

/**
 * The router's figures for `cascade report`: per router version that made decisions, its hold-out
 * metrics, and what its recorded decisions did. Read by groups (version, mode, decision, the pass-1
 * outcome on the first model), never one row per request, so it stays cheap on a large table.
 */
export async function routerReport(manager: EntityManager, prices: PriceTable): Promise<RouterVersionReport[]> {
  const versions: Array<{ version: number; trained_at: Date; cheap_model: string; strong_model: string; threshold: number; preference: string; metrics: RoutingMetrics }> =
    await manager.query(
      `SELECT version, trained_at, cheap_model, strong_model, threshold, preference, metrics FROM router_models m
        WHERE EXISTS (SELECT 1 FROM routing_decisions d WHERE d.model_version = m.version) ORDER BY version`,
    );
  if (versions.length === 0) return [];
  // The first pass-1 attempt of each decided request on the model it started on, and its answer when it has one.
  const groups: DecisionGroup[] = (
    await manager.query(
      `SELECT d.model_version AS version, d.mode, d.decision, a.outcome, a.code, a.message, a.http_status,
              count(*)::int AS requests, sum(d.score)::float8 AS score_sum,
              count(res.request_id)::int AS answered,
              COALESCE(sum(res.prompt_tokens), 0)::float8 AS prompt_tokens,
              COALESCE(sum(res.completion_tokens), 0)::float8 AS completion_tokens,
              COALESCE(sum(res.cost_usd), 0)::float8 AS cost_usd,
              COALESCE(sum(d.score * res.prompt_tokens), 0)::float8 AS score_prompt,
              COALESCE(sum(d.score * res.completion_tokens), 0)::float8 AS score_completion
         FROM routing_decisions d
         LEFT JOIN LATERAL (
           SELECT outcome, code, left(message, 200) AS message, http_status FROM attempts
            WHERE request_id = d.request_id AND prompt_version = d.prompt_version AND pass = 1 AND model = d.model
            ORDER BY attempt LIMIT 1) a ON true
         LEFT JOIN results res ON res.request_id = d.request_id AND res.prompt_version = d.prompt_version AND res.status = 'succeeded' AND res.attempt > 0
        GROUP BY 1, 2, 3, 4, 5, 6, 7`,
    )
  ).map((row: Record<string, unknown>) => ({
    ...(row as unknown as DecisionGroup),
    version: Number(row.version),
    http_status: row.http_status === null ? null : Number(row.http_status),
  }));
  return versions.map((v) => {
    const mine = groups.filter((g) => g.version === Number(v.version));
    const cheap = priceOf(prices, v.cheap_model);
    const strong = priceOf(prices, v.strong_model);
    const at = (price: { inputPerMillion: number; outputPerMillion: number }, prompt: number, completion: number) =>
      (prompt * price.inputPerMillion + completion * price.outputPerMillion) / 1e6;
    return {
      version: Number(v.version),
      trainedAt: new Date(v.trained_at).toISOString(),
      cheapModel: v.cheap_model,
      strongModel: v.strong_model,
      threshold: Number(v.threshold),
      preference: v.preference,
      holdout: v.metrics,
      shadow: shadowFigures(mine.filter((g) => g.mode === 'shadow'), (g) => at(cheap, g.prompt_tokens, g.completion_tokens), (g) => at(strong, g.prompt_tokens, g.completion_tokens)),
      learned: learnedFigures(mine.filter((g) => g.mode === 'learned'), (g) => at(cheap, g.prompt_tokens, g.completion_tokens), (g) => at(strong, g.score_prompt, g.score_completion)),
    };
  });
}

function shadowFigures(groups: DecisionGroup[], atCheap: (g: DecisionGroup) => number, atStrong: (g: DecisionGroup) => number): ShadowFigures | null {
  if (groups.length === 0) return null;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let labelled = 0;
  let effect = 0;
  for (const g of groups) {
    const label = g.outcome === null ? null : routingLabel({ outcome: g.outcome, code: g.code, message: g.message, httpStatus: g.http_status });
    if (label === null) continue;
    labelled += g.requests;
    const flagged = g.decision === 'routed';
    if (flagged && label === 'failed') {
      tp += g.requests;
      // The answer came later, on another model: its tokens stand in for the wasted first attempt's.
      effect += atCheap(g);
    } else if (flagged) {
      fp += g.requests;
      effect -= atStrong(g) - atCheap(g);
    } else if (label === 'failed') {
      fn += g.requests;
    }
  }
  return {
    scored: groups.reduce((sum, g) => sum + g.requests, 0),
    flagged: groups.filter((g) => g.decision === 'routed').reduce((sum, g) => sum + g.requests, 0),
    labelled,
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    savedFromPass2: tp,
    estimatedEffectUsd: effect,
  };
}

function learnedFigures(groups: DecisionGroup[], atCheap: (g: DecisionGroup) => number, scoreWeightedAtStrong: (g: DecisionGroup) => number): LearnedFigures | null {
  if (groups.length === 0) return null;
  const routed = groups.filter((g) => g.decision === 'routed');
  const routedUsd = routed.reduce((sum, g) => sum + g.cost_usd, 0);
  const expected = routed.reduce((sum, g) => sum + atCheap(g) + scoreWeightedAtStrong(g), 0);
  const missed = groups
    .filter((g) => g.decision === 'cheap_first' && g.outcome !== null)
    .filter((g) => routingLabel({ outcome: g.outcome!, code: g.code, message: g.message, httpStatus: g.http_status }) === 'failed')
    .reduce((sum, g) => sum + g.requests, 0);
  return {
    scored: groups.reduce((sum, g) => sum + g.requests, 0),
    routed: routed.reduce((sum, g) => sum + g.requests, 0),
    missedFailures: missed,
    routedUsd,
    expectedCheapFirstUsd: expected,
    expectedEffectUsd: expected - routedUsd,
  };
}

const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
const usd = (amount: number) => `${amount < 0 ? '-' : ''}$${Math.abs(amount).toFixed(4)}`;

/** The router section of the run report (`cascade report`, `demo`, `run`). */
export function formatRouterReport(versions: readonly RouterVersionReport[]): string {
  const out = ['Predictive routing (routing_decisions against what happened)'];
  if (versions.length === 0) {
    out.push('  no decisions recorded (ROUTING=off, or no router version trained: `cascade routing train`)');
    return out.join('\n');
  }
  for (const v of versions) {
    const h = v.holdout;
    out.push(
      `  router v${v.version} (${v.cheapModel} → ${v.strongModel}, p(fail) > ${v.threshold.toFixed(3)}, favour ${v.preference}, trained ${v.trainedAt}): ` +
        `hold-out precision ${pct(h.precision)}, recall ${pct(h.recall)}, ${h.savedUsd >= 0 ? 'saved' : 'lost'} ${usd(Math.abs(h.savedUsd))}`,
    );
    if (v.shadow) {
      const s = v.shadow;
      out.push(
        `    shadow: ${s.scored} scored, ${s.flagged} would have started on ${v.strongModel}; against their pass-1 outcomes (${s.labelled} labelled): ` +
          `precision ${pct(s.precision)}, recall ${pct(s.recall)}, ${s.savedFromPass2} saved from pass 2, estimated effect ${usd(s.estimatedEffectUsd)}`,
      );
    }
    if (v.learned) {
      const l = v.learned;
      out.push(
        `    learned: ${l.scored} scored, ${l.routed} started on ${v.strongModel} (${usd(l.routedUsd)}; cheap-first expected from their scores ${usd(l.expectedCheapFirstUsd)}, ` +
          `effect ${usd(l.expectedEffectUsd)}); ${l.missedFailures} failures on ${v.cheapModel} not foreseen`,
      );
    }
  }
  return out.join('\n');
}
