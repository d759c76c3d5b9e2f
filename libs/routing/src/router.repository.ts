import { estimateInputTokens, requestBodyChars } from '#batching';
import { buildPrAnalysisRequest, type PromptRegistry } from '#groq-batch';
import type { EntityManager } from 'typeorm';
import type { TrainedRouter } from './classifier.js';
import type { RoutingPreference } from './decision.js';
import type { RoutingInput } from './features.js';
import type { Pass1Attempt, RoutingMetrics, StoredHistory, TrainedVersion } from './training.js';
import { routingLabel } from './router-report.js';

/** A router version as stored in `router_models`. */
export interface StoredRouterVersion {
  version: number;
  trainedAt: Date;
  cheapModel: string;
  strongModel: string;
  trained: TrainedRouter;
  history: StoredHistory;
  threshold: number;
  preference: RoutingPreference;
  trainingRows: number;
  holdoutFrom: Date | null;
  metrics: RoutingMetrics;
}

/** One routing record: what was decided for a request's text, with which version and why. */
export interface RoutingDecisionRecord {
  requestId: string;
  promptVersion: string;
  contentHash: string;
  modelVersion: number;
  score: number;
  threshold: number;
  mode: 'shadow' | 'learned';
  decision: 'cheap_first' | 'routed';
  reason: string;
  model: string;
}

interface AttemptRow {
  request_id: string;
  prompt_version: string;
  repo: string;
  outcome: 'succeeded' | 'failed';
  code: string | null;
  message: string | null;
  http_status: number | null;
  sent_at: Date;
  pr: {
    title?: string;
    body?: string;
    author?: string;
    labels?: string[];
    additions?: number;
    deletions?: number;
    changedFiles?: number;
    reviews?: Array<{ author: string; body: string }>;
    flags?: { truncated?: boolean; injectionSuspected?: boolean };
  };
}

interface VersionRow {
  version: number;
  trained_at: Date;
  cheap_model: string;
  strong_model: string;
  model: TrainedRouter;
  history: StoredHistory;
  threshold: number;
  preference: RoutingPreference;
  training_rows: number;
  holdout_from: Date | null;
  metrics: RoutingMetrics;
}

/** The input-token estimate of a request's pass-1 line, as the quota gate makes it. */
export function promptTokensOf(input: Omit<RoutingInput, 'promptTokens'> & { deletions: number; labels?: string[]; reviews?: Array<{ author: string; body: string }> }, model: string, registry?: PromptRegistry): number {
  const body = buildPrAnalysisRequest(input, { model, maxTokens: 1, promptVersion: input.promptVersion, registry });
  return estimateInputTokens(requestBodyChars(body));
}

function versionOf(row: VersionRow): StoredRouterVersion {
  return {
    version: row.version,
    trainedAt: row.trained_at,
    cheapModel: row.cheap_model,
    strongModel: row.strong_model,
    trained: row.model,
    history: row.history,
    threshold: row.threshold,
    preference: row.preference,
    trainingRows: row.training_rows,
    holdoutFrom: row.holdout_from,
    metrics: row.metrics,
  };
}

/** The router's tables: pass-1 history in, versions and routing records out. */
export class RouterRepository {
  /**
   * Every pass-1 attempt on `cheapModel` whose outcome says something about the model: succeeded, or
   * failed with output a stronger model fixes. Transient and permanent failures are left out (a stronger
   * model changes nothing for them). The PR is the request's stored text; the time is when its batch was
   * submitted (attempts of one batch are recorded at different times: failures and answers apart).
   */
  async pass1Attempts(manager: EntityManager, cheapModel: string, registry?: PromptRegistry): Promise<Pass1Attempt[]> {
    const rows: AttemptRow[] = await manager.query(
      `SELECT a.request_id, a.prompt_version, r.repo, a.outcome, a.code, a.message, a.http_status, i.pr,
              COALESCE(b.submitted_at, b.created_at, a.recorded_at) AS sent_at
         FROM attempts a
         LEFT JOIN batches b ON b.batch_id = a.batch_id
         JOIN requests r ON r.request_id = a.request_id AND r.prompt_version = a.prompt_version
         JOIN request_inputs i ON i.request_id = a.request_id AND i.prompt_version = a.prompt_version
        WHERE a.pass = 1 AND a.model = $1
        ORDER BY sent_at, a.request_id`,
      [cheapModel],
    );
    const attempts: Pass1Attempt[] = [];
    for (const row of rows) {
      const label = routingLabel({ outcome: row.outcome, code: row.code, message: row.message, httpStatus: row.http_status });
      if (label === null) continue;
      const failed = label === 'failed';
      const pr = row.pr;
      const known = {
        repo: row.repo,
        author: pr.author ?? '',
        title: pr.title ?? '',
        body: pr.body ?? '',
        labels: pr.labels,
        additions: pr.additions ?? 0,
        deletions: pr.deletions ?? 0,
        changedFiles: pr.changedFiles ?? 0,
        reviews: pr.reviews,
        flags: pr.flags,
        promptVersion: row.prompt_version,
      };
      attempts.push({ requestId: row.request_id, sentAt: new Date(row.sent_at), failed, input: { ...known, promptTokens: promptTokensOf(known, cheapModel, registry) } });
    }
    return attempts;
  }

  async saveVersion(manager: EntityManager, chain: { cheapModel: string; strongModel: string }, version: TrainedVersion): Promise<number> {
    const [row]: Array<{ version: number }> = await manager.query(
      `INSERT INTO router_models (cheap_model, strong_model, features, model, history, threshold, preference, training_rows, holdout_from, metrics)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING version`,
      [
        chain.cheapModel,
        chain.strongModel,
        JSON.stringify(version.trained.featureNames),
        JSON.stringify(version.trained),
        JSON.stringify(version.history),
        version.threshold,
        version.preference,
        version.trainingRows,
        version.holdoutFrom,
        JSON.stringify(version.metrics),
      ],
    );
    return row!.version;
  }

  /** The newest version trained for this pair of models, or a given version number. */
  async findVersion(manager: EntityManager, which: { version?: number; cheapModel?: string; strongModel?: string }): Promise<StoredRouterVersion | null> {
    const rows: VersionRow[] =
      which.version !== undefined
        ? await manager.query('SELECT * FROM router_models WHERE version = $1', [which.version])
        : await manager.query(
            `SELECT * FROM router_models WHERE ($1::text IS NULL OR cheap_model = $1) AND ($2::text IS NULL OR strong_model = $2) ORDER BY version DESC LIMIT 1`,
            [which.cheapModel ?? null, which.strongModel ?? null],
          );
    return rows[0] ? versionOf(rows[0]) : null;
  }

  /** One record per request text; a text scored again (a replay) keeps its latest decision. */
  async recordDecisions(manager: EntityManager, decisions: readonly RoutingDecisionRecord[]): Promise<void> {
    if (decisions.length === 0) return;
    await manager.query(
      `INSERT INTO routing_decisions (request_id, prompt_version, content_hash, model_version, score, threshold, mode, decision, reason, model)
       SELECT d."requestId", d."promptVersion", d."contentHash", d."modelVersion", d.score, d.threshold, d.mode, d.decision, d.reason, d.model
         FROM jsonb_to_recordset($1::jsonb) AS d("requestId" text, "promptVersion" text, "contentHash" text, "modelVersion" integer,
              score double precision, threshold double precision, mode text, decision text, reason text, model text)
       ON CONFLICT (request_id, prompt_version, content_hash) DO UPDATE
          SET model_version = EXCLUDED.model_version, score = EXCLUDED.score, threshold = EXCLUDED.threshold, mode = EXCLUDED.mode,
              decision = EXCLUDED.decision, reason = EXCLUDED.reason, model = EXCLUDED.model, decided_at = now()`,
      [JSON.stringify(decisions)],
    );
  }
}
