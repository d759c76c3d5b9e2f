import type { EntityManager } from 'typeorm';
import { returnedRows } from '#platform';

export interface BatchView {
  batch_id: string;
  provider_batch_id: string | null;
  state: string;
  provider_status: string | null;
  pass: number;
  model: string;
  prompt_version: string;
  request_count: number;
  cost_usd: string;
  created_at: Date;
  submitted_at: Date | null;
  finished_at: Date | null;
  /** When the input file was deleted at the provider; null on a finished batch: the poller has yet to succeed. */
  input_file_deleted_at: Date | null;
  last_error: string | null;
  /** Who is working on the batch now (creating it or polling it) and until when its lease holds. */
  lease_owner: string | null;
  lease_until: Date | null;
  next_poll_at: Date | null;
  /** Failed submissions so far, and why submission is held for an operator (null: not held). */
  submit_attempts: number;
  held_reason: string | null;
}

/** A batch whose submission is held for an operator: why, after how many attempts, and what resumes it (`cascade status` and `cascade reconcile` say it alike). */
export function heldBatchText(held: { batchId: string; attempts: number; reason: string }): string {
  return `submission of batch ${held.batchId} is HELD after ${held.attempts} failed attempts: ${held.reason} (cascade retry-batch ${held.batchId} resumes it)`;
}

const COLUMNS = `batch_id, provider_batch_id, state, provider_status, pass, model, prompt_version, request_count, cost_usd,
                 created_at, submitted_at, finished_at, input_file_deleted_at, last_error, lease_owner, lease_until, next_poll_at,
                 submit_attempts, held_reason`;

export async function listBatches(
  manager: EntityManager,
  filter: { state?: string; pass?: number; model?: string; promptVersion?: string; limit?: number },
): Promise<BatchView[]> {
  return manager.query(
    `SELECT ${COLUMNS} FROM batches
     WHERE ($1::text IS NULL OR state = $1) AND ($2::int IS NULL OR pass = $2)
       AND ($4::text IS NULL OR model = $4) AND ($5::text IS NULL OR prompt_version = $5)
     ORDER BY created_at DESC LIMIT $3`,
    [filter.state ?? null, filter.pass ?? null, Math.min(filter.limit ?? 100, 1_000), filter.model ?? null, filter.promptVersion ?? null],
  );
}

/** One batch (our id or the provider's) with its items' outcomes and its failures by code. */
export async function batchDetail(manager: EntityManager, id: string) {
  const [batch]: BatchView[] = await manager.query(`SELECT ${COLUMNS} FROM batches WHERE batch_id = $1 OR provider_batch_id = $1`, [id]);
  if (!batch) return null;
  const items = await manager.query(
    `SELECT request_id AS "requestId", attempt, coalesce(outcome, 'pending') AS outcome FROM batch_items WHERE batch_id = $1 ORDER BY request_id`,
    [batch.batch_id],
  );
  const failures = await manager.query(
    `SELECT code, count(*)::int AS count FROM attempts WHERE batch_id = $1 AND outcome = 'failed' GROUP BY code ORDER BY count DESC`,
    [batch.batch_id],
  );
  return { batch, items, failures };
}

/** What an operator's retry did; `conflict` when it was refused because a submitter is at work on the batch. */
export interface RetryOutcome {
  message: string;
  conflict?: boolean;
}

/**
 * Retries a batch by hand: a submitted batch is polled again now; an interrupted or held submission is
 * resumed now under a new lease epoch (found by its key at the provider first), but never one a live
 * submitter is creating (that would pay for it twice); for a finished batch, every request it holds without
 * an outcome (still `submitting` or `submitted`) is queued again as a new attempt on the same model.
 * Requests whose outcome exists and waits for the result-writer or the retry-service are left alone:
 * sending them again would pay twice for an answer already in hand.
 */
export async function retryBatch(manager: EntityManager, id: string): Promise<RetryOutcome | null> {
  const [batch] = await manager.query(
    `SELECT batch_id, state, lease_owner, lease_until, lease_until > now() AS leased, held_reason
     FROM batches WHERE batch_id = $1 OR provider_batch_id = $1 FOR UPDATE`,
    [id],
  );
  if (!batch) return null;
  if (batch.state === 'submitted') {
    await manager.query(`UPDATE batches SET next_poll_at = now(), lease_owner = NULL, lease_until = NULL WHERE batch_id = $1`, [batch.batch_id]);
    return { message: `batch ${batch.batch_id} will be polled now` };
  }
  if (batch.state === 'creating') {
    if (batch.leased && batch.lease_owner) {
      return {
        conflict: true,
        message: `batch ${batch.batch_id} is being submitted by ${batch.lease_owner} (lease until ${new Date(batch.lease_until).toISOString()}); not retried`,
      };
    }
    await manager.query(
      `UPDATE batches SET lease_owner = NULL, lease_until = NULL, lease_epoch = lease_epoch + 1, held_reason = NULL, submit_attempts = 0
       WHERE batch_id = $1`,
      [batch.batch_id],
    );
    return { message: `submission of batch ${batch.batch_id} will be resumed now${batch.held_reason ? ' (it was held)' : ''}` };
  }
  const requeued = returnedRows(
    await manager.query(
      `UPDATE requests SET status = 'pending', stage = 'retry_queued', attempt = attempt + 1, current_batch_id = NULL,
              stage_deadline_at = NULL, updated_at = now()
       WHERE current_batch_id = $1 AND status = 'in_flight' AND stage IN ('submitting', 'submitted') RETURNING request_id`,
      [batch.batch_id],
    ),
  );
  return { message: `batch ${batch.batch_id} is ${batch.state}: ${requeued.length} stranded requests queued again` };
}
