import type { BatchSubmittedPayload, RequestMetadata } from '#contracts';
import type { BilledCost } from '#groq-batch';
import { returnedRows } from '#platform';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

export interface TrackedBatch {
  batch_id: string;
  batch_key: string;
  /** Null for an on-demand batch (deadlines): it is answered through the chat API, not held by the provider. */
  provider_batch_id: string | null;
  input_file_id: string | null;
  pass: number;
  model: string;
  prompt_version: string;
  max_tokens: number;
  request_count: number;
  poll_count: number;
  submitted_at: Date;
  known_items: number;
  /** The batch's own span (made when it was submitted; null while tracing was off). */
  traceparent: string | null;
}

/** The batches of one model at the provider, for the metrics: how many, how many older than each age, the oldest's age. */
export interface OpenBatches {
  model: string;
  batches: number;
  /** Per age of `IN_FLIGHT_AGES_HOURS`, in its order: batches submitted longer ago than it. */
  olderThan: number[];
  oldestAgeSeconds: number;
}

/** The ages the metrics count open batches beyond: one hour, a quarter of the usual 24-hour window, the window. */
export const IN_FLIGHT_AGES_HOURS = [1, 6, 24] as const;

/** The poller's view of `batches`: tracking from events, leases so replicas never poll one batch together. */
@Injectable()
export class BatchTrackingRepository {
  /** Idempotent: every part of a `BatchSubmitted` adds its items; the batch row is created once. */
  async track(manager: EntityManager, batch: BatchSubmittedPayload): Promise<void> {
    await manager.query(
      `INSERT INTO batches (batch_id, batch_key, pass, model, prompt_version, max_tokens, state, provider_batch_id,
                            input_file_id, request_count, submitted_at, tracked_at, next_poll_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'submitted', $7, $8, $9, $10, now(), now())
       ON CONFLICT (batch_id) DO UPDATE SET
         tracked_at = COALESCE(batches.tracked_at, now()),
         next_poll_at = COALESCE(batches.next_poll_at, now()),
         provider_batch_id = COALESCE(batches.provider_batch_id, EXCLUDED.provider_batch_id),
         input_file_id = COALESCE(batches.input_file_id, EXCLUDED.input_file_id),
         state = CASE WHEN batches.state = 'creating' THEN 'submitted' ELSE batches.state END`,
      [
        batch.batchId,
        batch.batchKey,
        batch.pass,
        batch.model,
        batch.promptVersion,
        batch.maxTokens,
        batch.providerBatchId,
        batch.inputFileId,
        batch.requestCount,
        batch.submittedAt,
      ],
    );
    await manager.query(
      `INSERT INTO batch_items (batch_id, request_id, prompt_version, attempt, metadata)
       SELECT $1, i->>'requestId', i->>'promptVersion', (i->>'attempt')::int, i FROM jsonb_array_elements($2::jsonb) AS i
       ON CONFLICT (batch_id, request_id) DO NOTHING`,
      [batch.batchId, JSON.stringify(batch.requests)],
    );
  }

  /** Extends this replica's lease while it works on the batch; false when the lease is no longer its own. */
  async renewLease(manager: EntityManager, batchId: string, owner: string, leaseMs: number): Promise<boolean> {
    const rows = returnedRows(
      await manager.query(
        `UPDATE batches SET lease_until = now() + make_interval(secs => $3::float8 / 1000)
         WHERE batch_id = $1 AND lease_owner = $2 AND state = 'submitted' RETURNING batch_id`,
        [batchId, owner, leaseMs],
      ),
    );
    return rows.length > 0;
  }

  async claimDue(manager: EntityManager, owner: string, limit: number, leaseMs: number): Promise<TrackedBatch[]> {
    return returnedRows<TrackedBatch>(await manager.query(
      `UPDATE batches b SET lease_owner = $1, lease_until = now() + make_interval(secs => $3::float8 / 1000)
       WHERE b.batch_id IN (
         SELECT batch_id FROM batches
         WHERE state = 'submitted' AND mode = 'batch' AND tracked_at IS NOT NULL AND next_poll_at <= now()
           AND (lease_until IS NULL OR lease_until < now())
         ORDER BY next_poll_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING b.batch_id, b.batch_key, b.provider_batch_id, b.input_file_id, b.pass, b.model, b.prompt_version, b.max_tokens, b.request_count,
                 b.poll_count, b.submitted_at, b.traceparent,
                 (SELECT count(*)::int FROM batch_items i WHERE i.batch_id = b.batch_id) AS known_items`,
      [owner, limit, leaseMs],
    ));
  }

  /** The next poll; `status_since` moves only when the status changes (reconcile reads how long it has not). */
  async reschedule(
    manager: EntityManager,
    batchId: string,
    owner: string,
    providerStatus: string,
    counts: unknown,
    delayMs: number,
    error: string | null = null,
  ): Promise<void> {
    await manager.query(
      `UPDATE batches SET status_since = CASE WHEN provider_status IS DISTINCT FROM $3 OR status_since IS NULL THEN now() ELSE status_since END,
              provider_status = $3, counts = $4, poll_count = poll_count + 1, last_error = COALESCE($6, last_error),
              next_poll_at = now() + make_interval(secs => $5::float8 / 1000), lease_owner = NULL, lease_until = NULL
       WHERE batch_id = $1 AND lease_owner = $2`,
      [batchId, owner, providerStatus, JSON.stringify(counts ?? {}), delayMs, error?.slice(0, 500) ?? null],
    );
  }

  /** The batches at the provider (`state = 'submitted'`, the rows of the `batches_due` partial index), by model. */
  async openBatchesByModel(manager: EntityManager): Promise<OpenBatches[]> {
    const submitted = `coalesce(submitted_at, created_at)`;
    const rows: Array<{ model: string; batches: number; older_than: number[]; oldest_age_seconds: number }> = await manager.query(
      `SELECT model, count(*)::int AS batches,
              ARRAY[${IN_FLIGHT_AGES_HOURS.map((_, i) => `count(*) FILTER (WHERE ${submitted} < now() - make_interval(hours => $${i + 1}))::int`).join(', ')}] AS older_than,
              extract(epoch FROM now() - min(${submitted}))::float8 AS oldest_age_seconds
       FROM batches WHERE state = 'submitted' GROUP BY model`,
      [...IN_FLIGHT_AGES_HOURS],
    );
    return rows.map((row) => ({ model: row.model, batches: row.batches, olderThan: row.older_than, oldestAgeSeconds: Math.max(0, row.oldest_age_seconds) }));
  }

  /** Marks the batch finished if this replica still holds its lease; false means another one finished it. */
  async finish(
    manager: EntityManager,
    batch: { batchId: string; owner: string; providerStatus: string; outputFileId: string | null; errorFileId: string | null; counts: unknown; cost: BilledCost },
  ): Promise<boolean> {
    const { answered, failedAttempts: failed, estimated } = batch.cost;
    const rows = returnedRows(await manager.query(
      `UPDATE batches SET state = 'finished', provider_status = $3, output_file_id = $4, error_file_id = $5, counts = $6,
              cost_usd = $7, answered_cost_usd = $8, answered_lines = $9, answered_prompt_tokens = $10, answered_completion_tokens = $11,
              failed_cost_usd = $12, failed_lines = $13, failed_prompt_tokens = $14, failed_completion_tokens = $15,
              estimated_cost_usd = $16, estimated_lines = $17, estimated_prompt_tokens = $18, estimated_completion_tokens = $19,
              finished_at = now(), lease_owner = NULL, lease_until = NULL, poll_count = poll_count + 1
       WHERE batch_id = $1 AND lease_owner = $2 AND state = 'submitted' RETURNING batch_id`,
      [
        batch.batchId,
        batch.owner,
        batch.providerStatus,
        batch.outputFileId,
        batch.errorFileId,
        JSON.stringify(batch.counts ?? {}),
        batch.cost.totalUsd,
        answered.usd,
        answered.lines,
        answered.promptTokens,
        answered.completionTokens,
        failed.usd,
        failed.lines,
        failed.promptTokens,
        failed.completionTokens,
        estimated.usd,
        estimated.lines,
        estimated.promptTokens,
        estimated.completionTokens,
      ],
    ));
    return rows.length > 0;
  }

  /** Once: the time stays that of the first delete that succeeded. */
  async markInputFileDeleted(manager: EntityManager, batchId: string): Promise<void> {
    await manager.query('UPDATE batches SET input_file_deleted_at = now() WHERE batch_id = $1 AND input_file_deleted_at IS NULL', [batchId]);
  }

  /** Finished batches whose input file is still at the provider, finished at least `finishedForMs` ago (the oldest first). */
  async inputFilesLeft(manager: EntityManager, finishedForMs: number, limit: number): Promise<Array<{ batch_id: string; model: string; input_file_id: string }>> {
    return manager.query(
      `SELECT batch_id, model, input_file_id FROM batches
       WHERE state = 'finished' AND input_file_id IS NOT NULL AND input_file_deleted_at IS NULL
         AND finished_at < now() - make_interval(secs => $1::float8 / 1000)
       ORDER BY finished_at LIMIT $2`,
      [finishedForMs, limit],
    );
  }

  /** The batch's lines whose request an on-demand call took over: billed with the batch, never published. */
  async supersededIn(manager: EntityManager, batchId: string): Promise<string[]> {
    const rows: Array<{ request_id: string }> = await manager.query(
      'SELECT request_id FROM batch_items WHERE batch_id = $1 AND superseded_by IS NOT NULL',
      [batchId],
    );
    return rows.map((row) => row.request_id);
  }

  async itemsOf(manager: EntityManager, batchId: string): Promise<RequestMetadata[]> {
    const rows: Array<{ metadata: RequestMetadata }> = await manager.query(
      'SELECT metadata FROM batch_items WHERE batch_id = $1 ORDER BY request_id',
      [batchId],
    );
    return rows.map((row) => row.metadata);
  }

  /** The stored input of some of the batch's lines (metadata as sent, PR as stored), to rebuild their request bodies. */
  async inputsOf(
    manager: EntityManager,
    batchId: string,
    requestIds: readonly string[],
  ): Promise<Array<{ metadata: RequestMetadata; pr: Record<string, unknown> }>> {
    return manager.query(
      `SELECT b.metadata, r.pr FROM batch_items b
       JOIN request_inputs r ON r.request_id = b.request_id AND r.prompt_version = b.prompt_version
       WHERE b.batch_id = $1 AND b.request_id = ANY($2::text[])`,
      [batchId, requestIds],
    );
  }

  /**
   * Moves each request of the batch to what it now waits for: its result written, or a retry decision.
   * The requests are named by primary key (`request_id = ANY(ids) AND prompt_version = $v`) and checked by
   * stage: see `BatchRepository` for the plans the other ways of writing it got.
   */
  async recordOutcomes(
    manager: EntityManager,
    batchId: string,
    succeeded: readonly RequestMetadata[],
    failed: readonly RequestMetadata[],
    deadlineMs: number,
  ): Promise<void> {
    const succeededIds = succeeded.map((r) => r.requestId);
    await manager.query(
      `UPDATE batch_items SET outcome = CASE WHEN request_id = ANY($2::text[]) THEN 'succeeded' ELSE 'failed' END
       WHERE batch_id = $1`,
      [batchId, succeededIds],
    );
    // A batch holds one prompt version; grouped anyway, so that each statement names whole keys.
    const all = [...succeeded, ...failed];
    for (const version of new Set(all.map((r) => r.promptVersion))) {
      await manager.query(
        `UPDATE requests r SET
           stage = CASE WHEN r.request_id = ANY($4::text[]) THEN 'awaiting_merge' ELSE 'awaiting_retry' END,
           stage_deadline_at = now() + make_interval(secs => $5::float8 / 1000), updated_at = now()
         WHERE r.request_id = ANY($2::text[]) AND r.prompt_version = $3
           AND r.current_batch_id = $1 AND r.stage IN ('submitting', 'submitted')`,
        [batchId, all.filter((r) => r.promptVersion === version).map((r) => r.requestId), version, succeededIds, deadlineMs],
      );
    }
  }
}
