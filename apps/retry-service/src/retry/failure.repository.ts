import type { FailedAttempt, FailedRequest } from '#contracts';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

export interface RequestState {
  status: string;
  attempt: number;
  first_attempt: number;
  content_hash: string;
}

/** The retry-service's reads and writes: attempts, and moving a request back into the queue. */
@Injectable()
export class FailureRepository {
  async recordAttempt(manager: EntityManager, failure: FailedRequest): Promise<void> {
    await manager.query(
      `INSERT INTO attempts (request_id, prompt_version, attempt, pass, model, batch_id, outcome, code, message,
                             http_status, failed_generation)
       VALUES ($1, $2, $3, $4, $5, $6, 'failed', $7, $8, $9, $10)
       ON CONFLICT (request_id, prompt_version, attempt) DO NOTHING`,
      [
        failure.request.requestId,
        failure.request.promptVersion,
        failure.request.attempt,
        failure.pass,
        failure.model,
        failure.batchId,
        failure.code,
        failure.message,
        failure.httpStatus,
        failure.failedGeneration,
      ],
    );
  }

  async lockRequest(manager: EntityManager, requestId: string, promptVersion: string): Promise<RequestState | null> {
    const rows: RequestState[] = await manager.query(
      'SELECT status, attempt, first_attempt, content_hash FROM requests WHERE request_id = $1 AND prompt_version = $2 FOR UPDATE',
      [requestId, promptVersion],
    );
    return rows[0] ?? null;
  }

  async requeue(
    manager: EntityManager,
    failure: FailedRequest,
    next: { model: string; maxTokens: number },
  ): Promise<void> {
    await manager.query(
      `UPDATE requests SET status = 'pending', stage = 'retry_queued', attempt = $3, pass = $4, model = $5,
              max_tokens = $6, current_batch_id = NULL, stage_deadline_at = NULL, updated_at = now()
       WHERE request_id = $1 AND prompt_version = $2`,
      [failure.request.requestId, failure.request.promptVersion, failure.request.attempt + 1, failure.pass + 1, next.model, next.maxTokens],
    );
  }

  async markAwaitingMerge(manager: EntityManager, failure: FailedRequest): Promise<void> {
    await manager.query(
      `UPDATE requests SET stage = 'awaiting_merge', updated_at = now() WHERE request_id = $1 AND prompt_version = $2`,
      [failure.request.requestId, failure.request.promptVersion],
    );
  }

  /** The failed attempts of the current text (from `fromAttempt` on). */
  async attemptsOf(manager: EntityManager, requestId: string, promptVersion: string, fromAttempt = 1): Promise<FailedAttempt[]> {
    const rows: Array<{ attempt: number; pass: number; model: string; batch_id: string; code: string; message: string; http_status: number | null }> =
      await manager.query(
        `SELECT attempt, pass, model, batch_id, code, message, http_status FROM attempts
         WHERE request_id = $1 AND prompt_version = $2 AND outcome = 'failed' AND attempt >= $3 ORDER BY attempt`,
        [requestId, promptVersion, fromAttempt],
      );
    return rows.map((row) => ({
      attempt: row.attempt,
      pass: row.pass,
      model: row.model,
      batchId: row.batch_id,
      code: row.code,
      message: row.message ?? '',
      httpStatus: row.http_status,
    }));
  }
}
