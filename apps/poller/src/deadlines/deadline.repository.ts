import type { BatchItem } from '#batching';
import type { RequestMetadata } from '#contracts';
import { returnedRows } from '#platform';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { TrackedBatch } from '../tracking/batch-tracking.repository.js';

/** A request past its deadline's margin, locked for this transaction, with its stored PR (to build its line). */
export interface DueRequest extends BatchItem {
  pass: number;
  model: string;
  max_tokens: number;
  /** The provider batch that holds its line, if it was batched (that line is superseded when taken over). */
  batchId: string | null;
}

/** Taken in turns by every deadline sweep: two replicas never both admit the last dollars of the budget. */
const ON_DEMAND_BUDGET_LOCK_ID = 7_263_900_017;

/**
 * The deadline sweep's SQL. Every claim takes the provider batch's row lock before the request's (as the
 * poller's finish and the submitter's record do): a line is either taken over before its batch finishes, or
 * published by that finish, never both; and no order of the three can deadlock.
 */
@Injectable()
export class DeadlineRepository {
  async lockBudget(manager: EntityManager): Promise<void> {
    await manager.query('SELECT pg_advisory_xact_lock($1)', [ON_DEMAND_BUDGET_LOCK_ID]);
  }

  /** Whether any request is due and not terminal (read without locking anything). */
  async anyDue(manager: EntityManager, marginMs: number): Promise<boolean> {
    const rows = await manager.query(
      `SELECT 1 FROM requests r
       WHERE r.deadline_at IS NOT NULL AND r.status IN ('pending', 'in_flight') AND r.deadline_at <= now() + make_interval(secs => $1::float8 / 1000)
       LIMIT 1`,
      [marginMs],
    );
    return rows.length > 0;
  }

  /**
   * Up to `limit` requests due (deadline − margin ≤ now) that are not terminal and not answered yet: pending
   * (not batched), or in a provider batch being created or at the provider and not finished. Locked (SKIP
   * LOCKED: a replica, an assembler or a finishing poll holding one leaves it to them) with their batch rows.
   * `providers` limits them to the models that can be answered on demand here.
   */
  async claimDue(manager: EntityManager, marginMs: number, limit: number, modelPrefixes: { groq: boolean; others: string[] }): Promise<DueRequest[]> {
    const due = `r.deadline_at IS NOT NULL AND r.status IN ('pending', 'in_flight') AND r.deadline_at <= now() + make_interval(secs => $1::float8 / 1000)`;
    const onDemand = `(${modelPrefixes.groq ? "r.model NOT LIKE '%:%' OR " : ''}split_part(r.model, ':', 1) = ANY($2::text[]))`;
    const batchIds: Array<{ batch_id: string }> = await manager.query(
      `SELECT b.batch_id FROM batches b
       WHERE b.batch_id IN (SELECT DISTINCT r.current_batch_id FROM requests r WHERE ${due} AND ${onDemand} AND r.stage IN ('submitting', 'submitted'))
         AND b.mode = 'batch' AND b.state IN ('creating', 'submitted')
       ORDER BY b.batch_id FOR SHARE SKIP LOCKED`,
      [marginMs, modelPrefixes.others],
    );
    return manager.query(
      `SELECT jsonb_build_object('requestId', r.request_id, 'correlationId', r.correlation_id, 'team', r.team, 'repo', r.repo,
                'prNumber', r.pr_number, 'promptVersion', r.prompt_version, 'attempt', r.attempt, 'contentHash', r.content_hash)
              -- The request's trace continues through its on-demand answer (absent, not null, when it has none).
              || CASE WHEN r.traceparent IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('traceparent', r.traceparent) END AS metadata,
              i.pr, r.pass, r.model, r.max_tokens, r.current_batch_id AS "batchId"
       FROM requests r JOIN request_inputs i ON i.request_id = r.request_id AND i.prompt_version = r.prompt_version
       WHERE ${due} AND ${onDemand}
         AND (r.status = 'pending' OR (r.stage IN ('submitting', 'submitted') AND r.current_batch_id = ANY($3::text[])))
       ORDER BY r.deadline_at, r.request_id LIMIT $4 FOR UPDATE OF r SKIP LOCKED`,
      [marginMs, modelPrefixes.others, batchIds.map((b) => b.batch_id), limit],
    );
  }

  /**
   * Moves claimed requests (one model, pass, prompt version and output budget) into a new on-demand batch,
   * leased to `owner`: the batch's items are their current attempts, the lines they leave in provider batches
   * are superseded, and each request is in flight in the on-demand batch until its answer is recorded.
   */
  async takeOver(
    manager: EntityManager,
    batch: { batchId: string; pass: number; model: string; promptVersion: string; maxTokens: number; reservedUsd: number },
    requests: readonly DueRequest[],
    owner: string,
    leaseMs: number,
    stageDeadlineMs: number,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO batches (batch_id, batch_key, mode, pass, model, prompt_version, max_tokens, state, provider_status, request_count,
                            submitted_at, status_since, lease_owner, lease_until, reserved_usd)
       VALUES ($1, 'on-demand:' || $1, 'on_demand', $2, $3, $4, $5, 'submitted', 'on_demand', $6, now(), now(), $7,
               now() + make_interval(secs => $8::float8 / 1000), $9)`,
      [batch.batchId, batch.pass, batch.model, batch.promptVersion, batch.maxTokens, requests.length, owner, leaseMs, batch.reservedUsd],
    );
    const items: RequestMetadata[] = requests.map((r) => r.metadata);
    await manager.query(
      `INSERT INTO batch_items (batch_id, request_id, prompt_version, attempt, metadata)
       SELECT $1, i->>'requestId', i->>'promptVersion', (i->>'attempt')::int, i FROM jsonb_array_elements($2::jsonb) AS i`,
      [batch.batchId, JSON.stringify(items)],
    );
    const batched = requests.filter((r) => r.batchId !== null);
    if (batched.length > 0) {
      await manager.query(
        `UPDATE batch_items b SET superseded_by = $1 FROM unnest($2::text[], $3::text[]) AS t(batch_id, request_id)
         WHERE b.batch_id = t.batch_id AND b.request_id = t.request_id AND b.prompt_version = $4`,
        [batch.batchId, batched.map((r) => r.batchId), batched.map((r) => r.metadata.requestId), batch.promptVersion],
      );
    }
    await manager.query(
      `UPDATE requests SET status = 'in_flight', stage = 'submitted', current_batch_id = $1, updated_at = now(),
              stage_deadline_at = now() + make_interval(secs => $4::float8 / 1000)
       WHERE request_id = ANY($2::text[]) AND prompt_version = $3`,
      [batch.batchId, requests.map((r) => r.metadata.requestId), batch.promptVersion, stageDeadlineMs],
    );
  }

  /**
   * An on-demand batch whose caller stopped (crash, lost lease) or that an operator released (`cascade
   * retry-batch`), leased to `owner` so its calls are made again.
   */
  async leaseInterrupted(manager: EntityManager, owner: string, leaseMs: number): Promise<TrackedBatch | null> {
    const [row] = returnedRows<TrackedBatch>(
      await manager.query(
        `UPDATE batches b SET lease_owner = $1, lease_until = now() + make_interval(secs => $2::float8 / 1000)
         WHERE b.batch_id = (
           SELECT batch_id FROM batches WHERE mode = 'on_demand' AND state = 'submitted' AND (lease_until IS NULL OR lease_until < now())
           ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING b.batch_id, b.batch_key, b.provider_batch_id, b.input_file_id, b.pass, b.model, b.prompt_version, b.max_tokens,
                   b.request_count, b.poll_count, b.submitted_at, b.traceparent, b.request_count AS known_items`,
        [owner, leaseMs],
      ),
    );
    return row ?? null;
  }

  /** The items of an on-demand batch with their stored PRs, to build their lines again. */
  async itemsOf(manager: EntityManager, batchId: string): Promise<BatchItem[]> {
    return manager.query(
      `SELECT b.metadata, r.pr FROM batch_items b
       JOIN request_inputs r ON r.request_id = b.request_id AND r.prompt_version = b.prompt_version
       WHERE b.batch_id = $1 ORDER BY b.request_id`,
      [batchId],
    );
  }
}
