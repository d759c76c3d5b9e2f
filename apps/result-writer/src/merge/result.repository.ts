import type { PermanentFailure, SettledRequest, SucceededRequest } from '#contracts';
import { stageOf } from '#platform';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

export interface ResolvedKey {
  request_id: string;
  prompt_version: string;
}

/**
 * Set-based writes of terminal records: one statement per step for a whole event, whatever its size.
 * Every write is an upsert that leaves a settled row alone, so re-deliveries change nothing.
 */
@Injectable()
export class ResultRepository {
  /** Records successes; returns the requests this call resolved (not those already resolved). */
  async recordSuccesses(manager: EntityManager, batchId: string, results: SucceededRequest[]): Promise<ResolvedKey[]> {
    const rows = results.map((r) => ({
      request_id: r.request.requestId,
      prompt_version: r.request.promptVersion,
      content_hash: r.request.contentHash,
      team: r.request.team,
      repo: r.request.repo,
      pr_number: r.request.prNumber,
      attempt: r.request.attempt,
      analysis: r.analysis,
      model: r.model,
      pass: r.pass,
      prompt_tokens: r.usage.promptTokens,
      completion_tokens: r.usage.completionTokens,
      cost_usd: r.costUsd,
      normalised: r.normalised?.length ? r.normalised : null,
    }));
    const incoming = `jsonb_to_recordset($1::jsonb) AS i(request_id text, prompt_version text, content_hash text, team text,
      repo text, pr_number int, attempt int, analysis jsonb, model text, pass int, prompt_tokens int,
      completion_tokens int, cost_usd numeric, normalised jsonb)`;
    await manager.query(
      `INSERT INTO attempts (request_id, prompt_version, attempt, pass, model, batch_id, outcome)
       SELECT i.request_id, i.prompt_version, i.attempt, i.pass, i.model, $2, 'succeeded' FROM ${incoming}
       ON CONFLICT (request_id, prompt_version, attempt) DO NOTHING`,
      [JSON.stringify(rows), batchId],
    );
    // A result for content that has since changed (the PR was edited and re-queued) is stale: skip it.
    return manager.query(
      `INSERT INTO results (request_id, prompt_version, status, team, repo, pr_number, content_hash, analysis, model,
                            pass, attempt, prompt_tokens, completion_tokens, cost_usd, normalised, attempts)
       SELECT i.request_id, i.prompt_version, 'succeeded', i.team, i.repo, i.pr_number, i.content_hash, i.analysis,
              i.model, i.pass, i.attempt, i.prompt_tokens, i.completion_tokens, i.cost_usd, i.normalised,
              COALESCE((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'pass', a.pass, 'model', a.model,
                          'batchId', a.batch_id, 'code', a.code, 'message', a.message, 'httpStatus', a.http_status)
                          ORDER BY a.attempt)
                        FROM attempts a WHERE a.request_id = i.request_id AND a.prompt_version = i.prompt_version
                          AND a.outcome = 'failed'), '[]'::jsonb)
       FROM ${incoming}
       LEFT JOIN requests r ON r.request_id = i.request_id AND r.prompt_version = i.prompt_version
       WHERE r.request_id IS NULL OR r.content_hash = i.content_hash
       ON CONFLICT (request_id, prompt_version) DO UPDATE SET
         status = 'succeeded', content_hash = EXCLUDED.content_hash, analysis = EXCLUDED.analysis,
         model = EXCLUDED.model, pass = EXCLUDED.pass, attempt = EXCLUDED.attempt,
         prompt_tokens = EXCLUDED.prompt_tokens, completion_tokens = EXCLUDED.completion_tokens,
         cost_usd = EXCLUDED.cost_usd, normalised = EXCLUDED.normalised, attempts = EXCLUDED.attempts, error_code = NULL, error_message = NULL,
         resolved_at = now()
       WHERE results.status <> 'succeeded' OR results.content_hash <> EXCLUDED.content_hash
       RETURNING request_id, prompt_version`,
      [JSON.stringify(rows)],
    );
  }

  /** Records permanent failures, unless the request already succeeded (a success always wins). */
  async recordPermanentFailures(manager: EntityManager, failures: PermanentFailure[]): Promise<ResolvedKey[]> {
    const rows = failures.map((f) => ({
      request_id: f.request.requestId,
      prompt_version: f.request.promptVersion,
      content_hash: f.request.contentHash,
      team: f.request.team,
      repo: f.request.repo,
      pr_number: f.request.prNumber,
      attempt: f.attempts[f.attempts.length - 1]!.attempt,
      model: f.attempts[f.attempts.length - 1]!.model,
      pass: f.attempts[f.attempts.length - 1]!.pass,
      code: f.code,
      reason: f.reason,
      attempts: f.attempts,
    }));
    return manager.query(
      `INSERT INTO results (request_id, prompt_version, status, team, repo, pr_number, content_hash, model, pass,
                            attempt, error_code, error_message, attempts)
       SELECT i.request_id, i.prompt_version, 'failed', i.team, i.repo, i.pr_number, i.content_hash, i.model, i.pass,
              i.attempt, i.code, i.reason, i.attempts
       FROM jsonb_to_recordset($1::jsonb) AS i(request_id text, prompt_version text, content_hash text, team text,
            repo text, pr_number int, attempt int, model text, pass int, code text, reason text, attempts jsonb)
       LEFT JOIN requests r ON r.request_id = i.request_id AND r.prompt_version = i.prompt_version
       WHERE r.request_id IS NULL OR r.content_hash = i.content_hash
       ON CONFLICT (request_id, prompt_version) DO UPDATE SET
         status = 'failed', content_hash = EXCLUDED.content_hash, analysis = NULL, model = EXCLUDED.model,
         pass = EXCLUDED.pass, attempt = EXCLUDED.attempt, error_code = EXCLUDED.error_code,
         error_message = EXCLUDED.error_message, attempts = EXCLUDED.attempts, resolved_at = now()
       WHERE results.status <> 'succeeded' AND (results.status <> 'failed' OR results.content_hash <> EXCLUDED.content_hash)
       RETURNING request_id, prompt_version`,
      [JSON.stringify(rows)],
    );
  }

  /**
   * The terminal records of requests settled without a provider call: excluded (never sent) or answered
   * from an earlier result at $0. Like every write here, a record for content the request no longer has
   * is stale and skipped, and a settled record of the same content is left alone.
   */
  async recordSettled(manager: EntityManager, settled: SettledRequest[]): Promise<ResolvedKey[]> {
    const rows = settled.map((s) => ({
      request_id: s.request.requestId,
      prompt_version: s.request.promptVersion,
      status: s.outcome === 'excluded' ? 'excluded' : 'succeeded',
      team: s.request.team,
      repo: s.request.repo,
      pr_number: s.request.prNumber,
      content_hash: s.request.contentHash,
      analysis: s.outcome === 'reused' ? s.analysis : null,
      model: s.outcome === 'reused' ? s.model : null,
      pass: s.outcome === 'reused' ? s.pass : null,
      error_code: s.outcome === 'excluded' ? s.reason : null,
      error_message: s.outcome === 'excluded' ? 'never sent' : `reused the result of ${s.reusedFrom}`,
    }));
    return manager.query(
      `INSERT INTO results (request_id, prompt_version, status, team, repo, pr_number, content_hash,
                            analysis, model, pass, attempt, cost_usd, error_code, error_message, attempts)
       SELECT i.request_id, i.prompt_version, i.status, i.team, i.repo, i.pr_number, i.content_hash,
              i.analysis, i.model, i.pass, 0, 0, i.error_code, i.error_message, '[]'::jsonb
       FROM jsonb_to_recordset($1::jsonb) AS i(request_id text, prompt_version text, status text, team text, repo text, pr_number int,
            content_hash text, analysis jsonb, model text, pass int, error_code text, error_message text)
       LEFT JOIN requests r ON r.request_id = i.request_id AND r.prompt_version = i.prompt_version
       WHERE r.request_id IS NULL OR r.content_hash = i.content_hash
       ORDER BY i.request_id, i.prompt_version
       ON CONFLICT (request_id, prompt_version) DO UPDATE SET
         status = EXCLUDED.status, content_hash = EXCLUDED.content_hash, analysis = EXCLUDED.analysis,
         model = EXCLUDED.model, pass = EXCLUDED.pass, attempt = 0, cost_usd = 0, prompt_tokens = 0,
         completion_tokens = 0, error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
         attempts = '[]'::jsonb, resolved_at = now()
       WHERE results.content_hash <> EXCLUDED.content_hash OR results.status NOT IN ('succeeded', EXCLUDED.status)
       RETURNING request_id, prompt_version`,
      [JSON.stringify(rows)],
    );
  }

  /**
   * Moves every in-flight request the event is about to the status of its terminal record, when the event,
   * the record and the request are all about the request's current content: those this event just wrote,
   * and those whose record was already there (a replay re-sent content that was analysed before: the
   * upserts above leave the settled record alone, and without this the request would wait in flight for
   * good). An event about other content (stale) settles nothing.
   */
  async settleRequests(manager: EntityManager, keys: Array<ResolvedKey & { content_hash: string }>): Promise<void> {
    if (keys.length === 0) return;
    // Checked by stage, not status: see `stageOf`.
    await manager.query(
      `UPDATE requests r SET status = res.status,
              stage = CASE WHEN res.status = 'excluded' THEN 'excluded' WHEN res.attempt = 0 THEN 'reused' ELSE 'merged' END,
              current_batch_id = NULL, stage_deadline_at = NULL, model = res.model, pass = COALESCE(res.pass, r.pass), updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS k(request_id text, prompt_version text, content_hash text), results res
       WHERE r.request_id = k.request_id AND r.prompt_version = k.prompt_version AND r.content_hash = k.content_hash
         AND res.request_id = k.request_id AND res.prompt_version = k.prompt_version
         AND res.content_hash = r.content_hash AND ${stageOf('r.stage', 'in_flight')}`,
      [JSON.stringify(keys)],
    );
  }
}
