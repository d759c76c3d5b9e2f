import type { RequestMetadata } from '#contracts';
import { returnedRows } from '#platform';
import type { EntityManager } from 'typeorm';

export interface PendingGroup {
  pass: number;
  model: string;
  max_tokens: number;
  prompt_version: string;
  waiting: number;
  oldest_age_ms: number;
}

/** A pending request claimed for a batch: its metadata and the size of its stored PR, never the PR itself. */
export interface ClaimedRequest {
  request_id: string;
  prompt_version: string;
  correlation_id: string;
  team: string;
  repo: string;
  pr_number: number;
  content_hash: string;
  attempt: number;
  bytes: number;
  traceparent: string | null;
}

/** One line's input: the request's metadata and its stored PR (the guarded prompt input). */
export interface BatchItem {
  metadata: RequestMetadata;
  pr: Record<string, unknown>;
}

/** PR texts are read this many at a time: a batch's PRs are never all in memory. */
export const ITEM_PAGE = 250;

export interface BatchRow {
  batch_id: string;
  batch_key: string;
  pass: number;
  model: string;
  prompt_version: string;
  max_tokens: number;
  request_count: number;
  /** What the batch was admitted at against the spend budget (null without a quota guard). */
  reserved_usd?: number | null;
}

/** A batch leased for submission: the epoch it was taken under, the attempts so far, a file already uploaded. */
export interface LeasedBatch extends BatchRow {
  /** When the intent was recorded (unix seconds): no provider batch of it can be older. */
  intent_at: number;
  lease_epoch: number;
  submit_attempts: number;
  input_file_id: string | null;
  held_reason: string | null;
}

/** Who holds a submission lease, and under which epoch (every write after a create checks both). */
export interface SubmitLease {
  owner: string;
  epoch: number;
}

export function metadataOf(row: ClaimedRequest): RequestMetadata {
  return {
    requestId: row.request_id,
    correlationId: row.correlation_id,
    team: row.team,
    repo: row.repo,
    prNumber: row.pr_number,
    promptVersion: row.prompt_version,
    attempt: row.attempt,
    contentHash: row.content_hash,
    // Every pass of the request, the retries' included, continues the trace it was accepted in.
    ...(row.traceparent ? { traceparent: row.traceparent } : {}),
  };
}

/**
 * The SQL of batch formation and submission; the assembler decides, this only reads and writes.
 *
 * A batch's requests are updated by primary key, `request_id = ANY(ids) AND prompt_version = $v` from the ids
 * the caller holds (both columns of the key in the index condition), and checked by stage, never by status.
 * Joined through `batch_items`, joined to `unnest(ids)`, or filtered on `status = 'in_flight'`, the planner,
 * on statistics that took the table for small, walked an index over every in-flight request and their dead
 * row versions instead: a cost per batch that grew with the table (see `stageOf` and migration 1763900012000).
 */
export class BatchRepository {
  async pendingGroups(manager: EntityManager, minPass: number, maxPass: number): Promise<PendingGroup[]> {
    return manager.query(
      `SELECT pass, model, max_tokens, prompt_version, count(*)::int AS waiting,
              (extract(epoch FROM now() - min(updated_at)) * 1000)::float8 AS oldest_age_ms
       FROM requests WHERE status = 'pending' AND pass BETWEEN $1 AND $2
       GROUP BY pass, model, max_tokens, prompt_version ORDER BY min(updated_at)`,
      [minPass, maxPass],
    );
  }

  async claimPending(manager: EntityManager, group: PendingGroup, limit: number): Promise<ClaimedRequest[]> {
    return manager.query(
      `SELECT request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, attempt,
              pr_bytes AS bytes, traceparent
       FROM requests
       WHERE status = 'pending' AND pass = $1 AND model = $2 AND max_tokens = $3 AND prompt_version = $4
       ORDER BY updated_at, request_id LIMIT $5 FOR UPDATE SKIP LOCKED`,
      [group.pass, group.model, group.max_tokens, group.prompt_version, limit],
    );
  }

  /**
   * Moves claimed pending requests to another model of the chain (quota fallback): still pending, same pass,
   * same place in the claim order; the move and its cause are recorded per request and attempt.
   */
  async moveToModel(manager: EntityManager, group: PendingGroup, requests: readonly ClaimedRequest[], model: string, cause: { kind: string; reason: string }): Promise<void> {
    const ids = requests.map((r) => r.request_id);
    await manager.query(
      `UPDATE requests SET model = $1 WHERE request_id = ANY($2::text[]) AND prompt_version = $3 AND status = 'pending' AND model = $4`,
      [model, ids, group.prompt_version, group.model],
    );
    await manager.query(
      `INSERT INTO quota_fallbacks (request_id, prompt_version, attempt, from_model, to_model, kind, reason)
       SELECT id, $2, attempt, $4, $5, $6, $7 FROM unnest($1::text[], $3::int[]) AS m(id, attempt)
       ON CONFLICT DO NOTHING`,
      [ids, group.prompt_version, requests.map((r) => r.attempt), group.model, model, cause.kind, cause.reason],
    );
  }

  /** Records the intent (state `creating`, deterministic key) before any provider call. */
  async recordIntent(
    manager: EntityManager,
    batch: BatchRow,
    items: RequestMetadata[],
    leaseOwner: string,
    leaseMs: number,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO batches (batch_id, batch_key, pass, model, prompt_version, max_tokens, state, request_count,
                            lease_owner, lease_until, lease_epoch, reserved_usd)
       VALUES ($1, $2, $3, $4, $5, $6, 'creating', $7, $8, now() + make_interval(secs => $9::float8 / 1000), 1, $10)`,
      [batch.batch_id, batch.batch_key, batch.pass, batch.model, batch.prompt_version, batch.max_tokens, batch.request_count, leaseOwner, leaseMs, batch.reserved_usd ?? null],
    );
    await manager.query(
      `INSERT INTO batch_items (batch_id, request_id, prompt_version, attempt, metadata)
       SELECT $1, i->>'requestId', i->>'promptVersion', (i->>'attempt')::int, i FROM jsonb_array_elements($2::jsonb) AS i`,
      [batch.batch_id, JSON.stringify(items)],
    );
    await manager.query(
      `UPDATE requests r SET status = 'in_flight', stage = 'submitting', current_batch_id = $1, updated_at = now()
       WHERE r.request_id = ANY($2::text[]) AND r.prompt_version = $3`,
      [batch.batch_id, items.map((item) => item.requestId), batch.prompt_version],
    );
  }

  /**
   * The oldest batch whose submission was interrupted (crash, provider down, a retry that is due), leased
   * under a new epoch so that whoever held it before can no longer write after its create. A held batch is
   * leased only when a provider batch was handed over for it (to adopt, never to create).
   */
  async leaseInterrupted(manager: EntityManager, minPass: number, maxPass: number, owner: string, leaseMs: number): Promise<LeasedBatch[]> {
    const rows = returnedRows<LeasedBatch & { lease_epoch: string }>(await manager.query(
      `UPDATE batches SET lease_owner = $3, lease_until = now() + make_interval(secs => $4::float8 / 1000), lease_epoch = lease_epoch + 1
       WHERE batch_id IN (
         SELECT batch_id FROM batches
         WHERE state = 'creating' AND pass BETWEEN $1 AND $2 AND (lease_until IS NULL OR lease_until < now())
           AND (held_reason IS NULL
                OR EXISTS (SELECT 1 FROM stray_provider_batches s WHERE s.batch_id = batches.batch_id AND s.disposition = 'handed_over'))
         ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING batch_id, batch_key, pass, model, prompt_version, max_tokens, request_count, lease_epoch, submit_attempts, input_file_id, held_reason,
         floor(extract(epoch FROM created_at))::int AS intent_at`,
      [minPass, maxPass, owner, leaseMs],
    ));
    return rows.map((row) => ({ ...row, lease_epoch: Number(row.lease_epoch) }));
  }

  /** The metadata of a batch's requests, in request id order (what its `BatchSubmitted` events carry). */
  async metadataOf(manager: EntityManager, batchId: string): Promise<RequestMetadata[]> {
    const rows: Array<{ metadata: RequestMetadata }> = await manager.query(
      `SELECT metadata FROM batch_items WHERE batch_id = $1 ORDER BY request_id`,
      [batchId],
    );
    return rows.map((row) => row.metadata);
  }

  /** A batch's items with their PRs, in request id order, read ITEM_PAGE at a time (keyset pages). */
  async *itemsOf(manager: EntityManager, batchId: string): AsyncGenerator<BatchItem> {
    for (let after = ''; ; ) {
      const page: BatchItem[] = await manager.query(
        `SELECT b.metadata, r.pr FROM batch_items b
         JOIN request_inputs r ON r.request_id = b.request_id AND r.prompt_version = b.prompt_version
         WHERE b.batch_id = $1 AND b.request_id > $2 ORDER BY b.request_id LIMIT $3`,
        [batchId, after, ITEM_PAGE],
      );
      yield* page;
      if (page.length < ITEM_PAGE) return;
      after = page[page.length - 1]!.metadata.requestId;
    }
  }

  /** Extends this replica's lease on a batch it is creating; false when the lease is no longer its own. */
  async renewSubmitLease(manager: EntityManager, batchId: string, lease: SubmitLease, leaseMs: number): Promise<boolean> {
    const rows = returnedRows(
      await manager.query(
        `UPDATE batches SET lease_until = now() + make_interval(secs => $4::float8 / 1000)
         WHERE batch_id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND state = 'creating' RETURNING batch_id`,
        [batchId, lease.owner, lease.epoch, leaseMs],
      ),
    );
    return rows.length > 0;
  }

  /** Gives the lease up without a failure counted; the batch is looked at again after `retryInMs`. */
  async releaseSubmitLease(manager: EntityManager, batchId: string, lease: SubmitLease, retryInMs: number): Promise<void> {
    await manager.query(
      `UPDATE batches SET lease_owner = NULL, lease_until = now() + make_interval(secs => $4::float8 / 1000)
       WHERE batch_id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND state = 'creating'`,
      [batchId, lease.owner, lease.epoch, retryInMs],
    );
  }

  /**
   * Whether this replica's lease is still the batch's (checked before a create): an expired lease nobody
   * has taken yet is still its own, since any taker bumps the epoch.
   */
  async holdsSubmitLease(manager: EntityManager, batchId: string, lease: SubmitLease): Promise<boolean> {
    const rows = await manager.query(
      `SELECT 1 FROM batches WHERE batch_id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND state = 'creating'`,
      [batchId, lease.owner, lease.epoch],
    );
    return rows.length > 0;
  }

  /** Keeps the uploaded file with the batch (fenced), so a failed create is retried on it, not on a new upload. */
  async recordInputFile(manager: EntityManager, batchId: string, lease: SubmitLease, inputFileId: string | null): Promise<boolean> {
    const rows = returnedRows(
      await manager.query(
        `UPDATE batches SET input_file_id = $4 WHERE batch_id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND state = 'creating' RETURNING batch_id`,
        [batchId, lease.owner, lease.epoch, inputFileId],
      ),
    );
    return rows.length > 0;
  }

  /** The batch's row, locked: the one place a submitter decides, under its epoch, what to record. */
  async lockForRecord(manager: EntityManager, batchId: string): Promise<{ state: string; lease_owner: string | null; lease_epoch: number; provider_batch_id: string | null }> {
    const [row] = await manager.query(
      `SELECT state, lease_owner, lease_epoch, provider_batch_id FROM batches WHERE batch_id = $1 FOR UPDATE`,
      [batchId],
    );
    return { ...row, lease_epoch: Number(row.lease_epoch) };
  }

  /** Marks the batch submitted; the caller holds the row lock and has checked its lease's epoch. */
  async recordSubmitted(
    manager: EntityManager,
    batch: Pick<BatchRow, 'batch_id' | 'prompt_version'>,
    requestIds: readonly string[],
    providerBatchId: string,
    inputFileId: string,
    stageDeadlineMs: number,
    traceparent: string | null = null,
  ): Promise<void> {
    const batchId = batch.batch_id;
    await manager.query(
      `UPDATE batches SET state = 'submitted', provider_batch_id = $2, input_file_id = $3, submitted_at = now(),
              next_poll_at = now(), last_error = NULL, held_reason = NULL, lease_owner = NULL, lease_until = NULL, traceparent = $4
       WHERE batch_id = $1 AND state = 'creating'`,
      [batchId, providerBatchId, inputFileId, traceparent],
    );
    await manager.query(
      `UPDATE requests r SET stage = 'submitted', updated_at = now(),
              stage_deadline_at = now() + make_interval(secs => $2::float8 / 1000)
       WHERE r.request_id = ANY($3::text[]) AND r.prompt_version = $4 AND r.current_batch_id = $1 AND r.stage = 'submitting'`,
      [batchId, stageDeadlineMs, requestIds, batch.prompt_version],
    );
  }

  /**
   * Keeps the error and, if this replica still holds the lease, when to try again (`retryInMs`) or why
   * the batch is held (`heldReason`): a held batch waits for an operator's retry.
   */
  async recordSubmitError(
    manager: EntityManager,
    batchId: string,
    lease: SubmitLease,
    failure: { message: string; retryInMs: number } | { message: string; heldReason: string },
  ): Promise<void> {
    const held = 'heldReason' in failure ? failure.heldReason.slice(0, 2_000) : null;
    await manager.query(
      `UPDATE batches SET last_error = $4, submit_attempts = submit_attempts + 1, held_reason = $5, lease_owner = NULL,
              lease_until = CASE WHEN $5::text IS NULL THEN now() + make_interval(secs => $6::float8 / 1000) END
       WHERE batch_id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND state = 'creating'`,
      [batchId, lease.owner, lease.epoch, failure.message.slice(0, 2_000), held, 'retryInMs' in failure ? failure.retryInMs : 0],
    );
  }
}
