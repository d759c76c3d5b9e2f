import type { RequestMetadata } from '#contracts';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { GuardedPr } from './prompt-guard.js';

export interface StoredRequest {
  request_id: string;
  prompt_version: string;
  content_hash: string;
  status: 'pending' | 'in_flight' | 'succeeded' | 'failed' | 'excluded';
}

export interface NewRequest {
  metadata: RequestMetadata;
  pr: GuardedPr & { createdAt: string; mergedAt: string | null; firstReviewAt: string | null };
  status: 'pending' | 'succeeded' | 'excluded';
  stage: string;
  exclusionReason: string | null;
  /** The first model of the chain and its output budget, for pending requests. */
  model: string | null;
  maxTokens: number | null;
  /** Whether the response cache answered (excluded requests never look). */
  cache?: 'hit' | 'miss';
}

interface ReusableResult {
  request_id: string;
  analysis: unknown;
  model: string;
  pass: number;
}

/** The `requests` table as the batch-submitter sees it: ingestion, dedupe and exclusion. */
@Injectable()
export class RequestRepository {
  async lockExisting(manager: EntityManager, requestId: string, promptVersion: string): Promise<StoredRequest | null> {
    const rows: StoredRequest[] = await manager.query(
      `SELECT request_id, prompt_version, content_hash, status FROM requests
       WHERE request_id = $1 AND prompt_version = $2 FOR UPDATE`,
      [requestId, promptVersion],
    );
    return rows[0] ?? null;
  }

  /**
   * The response cache: a succeeded result for the same content and prompt version, younger than the
   * TTL and than the operators' last "clear cache". Only answers the model gave count (attempt > 0):
   * a reused copy is younger than its original and would otherwise stretch the TTL forever.
   */
  async findReusableResult(manager: EntityManager, contentHash: string, promptVersion: string, ttlHours: number): Promise<ReusableResult | null> {
    const rows: ReusableResult[] = await manager.query(
      `SELECT request_id, analysis, model, pass FROM results
       WHERE content_hash = $1 AND prompt_version = $2 AND status = 'succeeded' AND attempt > 0
         AND resolved_at >= greatest(now() - make_interval(hours => $3::int),
                                     coalesce((SELECT (value->>'clearedAt')::timestamptz FROM control_state WHERE key = 'cache'), '-infinity'))
       ORDER BY resolved_at DESC LIMIT 1`,
      [contentHash, promptVersion, ttlHours],
    );
    return rows[0] ?? null;
  }

  /**
   * Inserts, or replaces a row whose content changed (a PR edited after its analysis is a new analysis).
   * The new text starts at the next attempt number, so every attempt of the id stays in the history.
   */
  async upsert(manager: EntityManager, request: NewRequest): Promise<void> {
    const m = request.metadata;
    await manager.query(
      `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash,
                             status, stage, exclusion_reason, attempt, pass, model, max_tokens, current_batch_id, pr, flags)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, 1, $13, $14, NULL, $11, $12)
       ON CONFLICT (request_id, prompt_version) DO UPDATE SET
         correlation_id = EXCLUDED.correlation_id, team = EXCLUDED.team, repo = EXCLUDED.repo,
         pr_number = EXCLUDED.pr_number, content_hash = EXCLUDED.content_hash, status = EXCLUDED.status,
         stage = EXCLUDED.stage, exclusion_reason = EXCLUDED.exclusion_reason,
         attempt = requests.attempt + 1, first_attempt = requests.attempt + 1, pass = 1,
         model = EXCLUDED.model, max_tokens = EXCLUDED.max_tokens, current_batch_id = NULL, stage_deadline_at = NULL, pr = EXCLUDED.pr, flags = EXCLUDED.flags, updated_at = now()`,
      [
        m.requestId,
        m.promptVersion,
        m.correlationId,
        m.team,
        m.repo,
        m.prNumber,
        m.contentHash,
        request.status,
        request.stage,
        request.exclusionReason,
        JSON.stringify(request.pr),
        JSON.stringify(request.cache ? { ...request.pr.flags, cache: request.cache } : request.pr.flags),
        request.model,
        request.maxTokens,
      ],
    );
  }

  /** The terminal record of a request that is never sent (excluded) or answered from an earlier result. */
  async writeTerminalResult(
    manager: EntityManager,
    metadata: RequestMetadata,
    terminal:
      | { status: 'excluded'; reason: string }
      | { status: 'succeeded'; analysis: unknown; model: string; pass: number; reusedFrom: string },
  ): Promise<void> {
    const m = metadata;
    await manager.query(
      `INSERT INTO results (request_id, prompt_version, status, team, repo, pr_number, content_hash,
                            analysis, model, pass, attempt, cost_usd, error_code, error_message, attempts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, $11, $12, '[]'::jsonb)
       ON CONFLICT (request_id, prompt_version) DO UPDATE SET
         status = EXCLUDED.status, content_hash = EXCLUDED.content_hash, analysis = EXCLUDED.analysis,
         model = EXCLUDED.model, pass = EXCLUDED.pass, attempt = 0, cost_usd = 0, prompt_tokens = 0,
         completion_tokens = 0, error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
         attempts = '[]'::jsonb, resolved_at = now()`,
      [
        m.requestId,
        m.promptVersion,
        terminal.status,
        m.team,
        m.repo,
        m.prNumber,
        m.contentHash,
        terminal.status === 'succeeded' ? JSON.stringify(terminal.analysis) : null,
        terminal.status === 'succeeded' ? terminal.model : null,
        terminal.status === 'succeeded' ? terminal.pass : null,
        terminal.status === 'excluded' ? terminal.reason : null,
        terminal.status === 'excluded' ? 'never sent' : `reused the result of ${terminal.reusedFrom}`,
      ],
    );
  }
}
