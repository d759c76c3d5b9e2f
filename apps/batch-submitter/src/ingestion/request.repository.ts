import type { PrAnalysisResult, RequestMetadata } from '#contracts';
import type { RequestStage } from '#platform';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { GuardedPr } from './prompt-guard.js';

export interface StoredRequest {
  request_id: string;
  prompt_version: string;
  content_hash: string;
  status: 'pending' | 'in_flight' | 'succeeded' | 'failed' | 'excluded';
  /** When the upstream observed the copy this row holds (its event's occurredAt); null for rows from before it was kept. */
  source_occurred_at: string | null;
}

export interface NewRequest {
  metadata: RequestMetadata;
  pr: GuardedPr & { createdAt: string; mergedAt: string | null; firstReviewAt: string | null };
  /** The occurredAt of the event this copy came in (replays and re-drives keep the original's). */
  occurredAt: string;
  /** When the analysis is due (the event's `deadlineAt` or its team's default); null: no deadline. */
  deadlineAt?: string | null;
  /** Queued, or settled here and awaiting the result-writer's terminal record (excluded, reused). */
  status: 'pending' | 'in_flight';
  stage: Extract<RequestStage, 'queued' | 'awaiting_merge'>;
  exclusionReason: string | null;
  /** The first model of the chain and its output budget, for pending requests. */
  model: string | null;
  maxTokens: number | null;
  /** Whether the response cache answered (excluded requests never look). */
  cache?: 'hit' | 'miss';
}

export interface RequestKey {
  requestId: string;
  promptVersion: string;
}

export interface ReusableResult {
  content_hash: string;
  prompt_version: string;
  request_id: string;
  analysis: PrAnalysisResult;
  model: string;
  pass: number;
}

/**
 * The `requests` table as the batch-submitter sees it: ingestion, dedupe and exclusion. Every method
 * takes a whole batch of requests and costs one statement, whatever the batch size.
 */
@Injectable()
export class RequestRepository {
  /** The rows of `keys` that already exist, locked for the rest of the transaction (in key order: no deadlock between batches). */
  async lockExisting(manager: EntityManager, keys: RequestKey[]): Promise<StoredRequest[]> {
    if (keys.length === 0) return [];
    return manager.query(
      `SELECT r.request_id, r.prompt_version, r.content_hash, r.status, to_json(r.source_occurred_at) #>> '{}' AS source_occurred_at
       FROM requests r JOIN unnest($1::text[], $2::text[]) AS k(request_id, prompt_version) USING (request_id, prompt_version)
       ORDER BY r.request_id, r.prompt_version FOR UPDATE OF r`,
      [keys.map((k) => k.requestId), keys.map((k) => k.promptVersion)],
    );
  }

  /**
   * The response cache: per (content hash, prompt version), the latest succeeded result younger than the
   * TTL and than the operators' last "clear cache". Only answers the model gave count (attempt > 0):
   * a reused copy is younger than its original and would otherwise stretch the TTL forever.
   *
   * One index probe per distinct key (LATERAL … LIMIT 1): written as `IN (unnest …)` with DISTINCT ON, the
   * planner hashed the keys against a scan of every succeeded result, a cost per ingested slice that grew
   * with the table (83 ms per 500 PRs at 100,000 results).
   */
  async findReusableResults(
    manager: EntityManager,
    contents: Array<{ contentHash: string; promptVersion: string }>,
    ttlHours: number,
  ): Promise<ReusableResult[]> {
    if (contents.length === 0) return [];
    return manager.query(
      `SELECT k.content_hash, k.prompt_version, res.request_id, res.analysis, res.model, res.pass
       FROM (SELECT DISTINCT content_hash, prompt_version FROM unnest($1::text[], $2::text[]) AS u(content_hash, prompt_version)) AS k
       CROSS JOIN LATERAL (
         SELECT request_id, analysis, model, pass FROM results
         WHERE content_hash = k.content_hash AND prompt_version = k.prompt_version AND status = 'succeeded' AND attempt > 0
           AND resolved_at >= greatest(now() - make_interval(hours => $3::int),
                                       coalesce((SELECT (value->>'clearedAt')::timestamptz FROM control_state WHERE key = 'cache'), '-infinity'))
         ORDER BY resolved_at DESC LIMIT 1) AS res`,
      [contents.map((c) => c.contentHash), contents.map((c) => c.promptVersion), ttlHours],
    );
  }

  /**
   * Inserts, or replaces rows whose content changed (a PR edited after its analysis is a new analysis). One row per key.
   * The new text starts at the next attempt number, so every attempt of the id stays in the history. The
   * stored PR goes to `request_inputs` (written here only, read by batch formation and the poller), its size
   * to `requests.pr_bytes`: the request's row, updated at every stage, stays small.
   */
  async upsert(manager: EntityManager, requests: NewRequest[]): Promise<void> {
    if (requests.length === 0) return;
    const rows = requests.map((request) => {
      const m = request.metadata;
      return {
        request_id: m.requestId,
        prompt_version: m.promptVersion,
        correlation_id: m.correlationId,
        team: m.team,
        repo: m.repo,
        pr_number: m.prNumber,
        content_hash: m.contentHash,
        status: request.status,
        stage: request.stage,
        exclusion_reason: request.exclusionReason,
        model: request.model,
        max_tokens: request.maxTokens,
        pr: request.pr,
        source_occurred_at: request.occurredAt,
        deadline_at: request.deadlineAt ?? null,
        traceparent: m.traceparent ?? null,
        flags: request.cache ? { ...request.pr.flags, cache: request.cache } : request.pr.flags,
      };
    });
    // One JSON parameter instead of 14 per row (a text[] of PRs cost pg's array encoder two copies of every
    // text): one statement, the same for any batch size. The inputs are written by the same statement, after
    // their requests (foreign keys are checked at its end).
    await manager.query(
      `WITH input AS MATERIALIZED (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(request_id text, prompt_version text, correlation_id text, team text, repo text,
              pr_number int, content_hash text, status text, stage text, exclusion_reason text, model text, max_tokens int, pr jsonb,
              flags jsonb, source_occurred_at timestamptz, traceparent text, deadline_at timestamptz)),
       upserted AS (
         INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash,
                               status, stage, exclusion_reason, attempt, pass, model, max_tokens, current_batch_id, pr_bytes, flags, source_occurred_at, traceparent, deadline_at)
         SELECT request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash,
                status, stage, exclusion_reason, 1, 1, model, max_tokens, NULL, octet_length(pr::text), flags, source_occurred_at, traceparent, deadline_at
         FROM input ORDER BY request_id, prompt_version
         ON CONFLICT (request_id, prompt_version) DO UPDATE SET
           correlation_id = EXCLUDED.correlation_id, team = EXCLUDED.team, repo = EXCLUDED.repo,
           pr_number = EXCLUDED.pr_number, content_hash = EXCLUDED.content_hash, status = EXCLUDED.status,
           stage = EXCLUDED.stage, exclusion_reason = EXCLUDED.exclusion_reason,
           attempt = requests.attempt + 1, first_attempt = requests.attempt + 1, pass = 1,
           model = EXCLUDED.model, max_tokens = EXCLUDED.max_tokens, current_batch_id = NULL, stage_deadline_at = NULL,
           pr_bytes = EXCLUDED.pr_bytes, flags = EXCLUDED.flags, source_occurred_at = EXCLUDED.source_occurred_at,
           traceparent = EXCLUDED.traceparent, deadline_at = EXCLUDED.deadline_at, updated_at = now()
         RETURNING 1)
       INSERT INTO request_inputs (request_id, prompt_version, pr)
       SELECT request_id, prompt_version, pr FROM input ORDER BY request_id, prompt_version
       ON CONFLICT (request_id, prompt_version) DO UPDATE SET pr = EXCLUDED.pr`,
      [JSON.stringify(rows)],
    );
  }
}
