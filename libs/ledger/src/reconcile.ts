import { DEFAULT_PROMPT_VERSION } from '#groq-batch';
import type { EntityManager } from 'typeorm';
import { heldBatchText } from './batch-ops.js';
import { unstoredDeadLetterCount } from './dead-letters.js';

export interface InFlightRequest {
  requestId: string;
  promptVersion: string;
  status: 'pending' | 'in_flight';
  stage: string;
  batchId: string | null;
  attempt: number;
  ageMs: number;
  deadlineAt: string | null;
  stuck: boolean;
  /** Why this request can no longer move by itself, when it cannot (see `StrandedRequest`). */
  stranded: string | null;
}

export interface LostRequest {
  requestId: string;
  promptVersion: string;
  reason: string;
}

/** An in-flight request that nothing will move again without help, with the reason and who held it. */
export interface StrandedRequest {
  requestId: string;
  promptVersion: string;
  stage: string;
  batchId: string | null;
  /** The lease holder of its batch, if any (a process that may be gone). */
  holder: string | null;
  since: string;
  reason: string;
}

/** One cross-check between two independent sources; `ok: false` breaks the invariant. */
export interface LedgerCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ReconcileReport {
  checkedAt: string;
  /** Distinct request ids (per prompt version) that entered: stored requests plus ids only dead-lettered. */
  ingested: number;
  /** Terminal counts from the terminal records (`results`) of requests settled on the same content. */
  succeeded: number;
  failed: number;
  excluded: number;
  /** Ids refused after their request id was read and not stored since (re-driven or not). */
  deadLettered: number;
  inFlight: number;
  /** ingested = succeeded + failed + excluded + dead_lettered + in_flight, and every check below passes. */
  invariantHolds: boolean;
  checks: LedgerCheck[];
  lost: LostRequest[];
  stuck: number;
  stranded: number;
  strandedRequests: StrandedRequest[];
  inFlightRequests: InFlightRequest[];
  inFlightListed: number;
}

export interface ReconcileOptions {
  /** Age in one stage after which a request without its own deadline is stuck. */
  defaultStageDeadlineMs: number;
  /** How long an in-flight request may go without any movement of it or its batch before it is stranded. */
  strandedAfterMs?: number;
  listLimit?: number;
  /** The prompt version of ingested events that name none (PROMPT_VERSION; for dead letters of such events). */
  defaultPromptVersion?: string;
}

/** A few maximum poll intervals: long enough for a batch at the slowest poll rate, short enough to page someone. */
export const DEFAULT_STRANDED_AFTER_MS = 15 * 60 * 1000;

/** The reason of a request whose batch is held: worded in `strandedText` from the columns `HELD_COLUMNS` select. */
const HELD = 'held';
const HELD_COLUMNS = `b.submit_attempts AS "heldAttempts", b.held_reason AS "heldReason"`;
interface HeldColumns {
  heldAttempts: number;
  heldReason: string | null;
}

/** A stranded reason as shown: a held batch's is worded by `heldBatchText`, as `cascade status` words it. */
function strandedText(reason: string | null, batchId: string | null, { heldAttempts, heldReason }: HeldColumns): string | null {
  return reason === HELD ? heldBatchText({ batchId: batchId!, attempts: heldAttempts, reason: heldReason! }) : reason;
}

/**
 * Why an in-flight request cannot move, or NULL. Evaluated per request row `r` joined with its batch `b`
 * and its terminal record `res`; `$1` is the stranded-after interval in milliseconds.
 */
const STRANDED_REASON = `
  CASE
    WHEN r.status <> 'in_flight' THEN NULL
    WHEN res.request_id IS NOT NULL AND res.content_hash = r.content_hash AND r.updated_at < now() - make_interval(secs => $1::float8 / 1000)
         AND (r.stage IN ('awaiting_merge', 'awaiting_retry') OR b.state = 'finished')
      THEN 'its terminal record (' || res.status || ') exists for this content, but the request was never settled'
    WHEN r.stage IN ('awaiting_merge', 'awaiting_retry') AND r.updated_at < now() - make_interval(secs => $1::float8 / 1000)
      THEN 'waiting for ' || CASE r.stage WHEN 'awaiting_merge' THEN 'the result-writer' ELSE 'the retry-service' END
           || ' since ' || to_char(r.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           || COALESCE(' (batch ' || b.batch_id || ' ' || b.state || ')', '')
    WHEN r.stage = 'submitting' AND b.state = 'creating' AND b.held_reason IS NOT NULL THEN '${HELD}'
    WHEN r.stage = 'submitting' AND b.state = 'creating' AND COALESCE(b.lease_until, b.created_at) < now() - make_interval(secs => $1::float8 / 1000)
      THEN 'batch ' || b.batch_id || ' is being created under a lease of ' || COALESCE(b.lease_owner, 'nobody')
           || ' that ran out at ' || to_char(COALESCE(b.lease_until, b.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           || COALESCE(' (last error: ' || b.last_error || ')', '')
    WHEN r.stage = 'submitted' AND b.state = 'submitted' AND b.mode = 'on_demand'
         AND COALESCE(b.lease_until, b.submitted_at) < now() - make_interval(secs => $1::float8 / 1000)
      THEN 'on-demand batch ' || b.batch_id || ' (deadline) is answered under a lease of ' || COALESCE(b.lease_owner, 'nobody')
           || ' that ran out at ' || to_char(COALESCE(b.lease_until, b.submitted_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           || ': only a poller with DEADLINES=on calls it again'
    WHEN r.stage = 'submitted' AND b.state = 'submitted' AND b.provider_status IN ('awaiting_items', 'poll_error')
         AND b.status_since < now() - make_interval(secs => $1::float8 / 1000)
      THEN 'batch ' || b.batch_id || CASE b.provider_status WHEN 'awaiting_items' THEN ' still misses part of its item list (a batch.submitted.v1 part)'
                                      ELSE ' fails every poll' || COALESCE(': ' || b.last_error, '') END
           || ' since ' || to_char(b.status_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    WHEN r.stage = 'submitted' AND b.state = 'submitted'
         AND greatest(COALESCE(b.next_poll_at, b.submitted_at, b.created_at), COALESCE(b.lease_until, '-infinity')) < now() - make_interval(secs => $1::float8 / 1000)
      THEN 'batch ' || b.batch_id || ' has not been polled since '
           || to_char(COALESCE(b.next_poll_at, b.submitted_at, b.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           || COALESCE(' (last lease holder ' || b.lease_owner || ')', '')
    WHEN r.stage IN ('submitting', 'submitted') AND b.state = 'submit_failed' AND r.updated_at < now() - make_interval(secs => $1::float8 / 1000)
      THEN 'batch ' || b.batch_id || ' failed to submit but this request was never queued again'
    ELSE NULL
  END`;

const REQUEST_JOINS = `
  FROM requests r
  LEFT JOIN batches b ON b.batch_id = r.current_batch_id
  LEFT JOIN results res ON res.request_id = r.request_id AND res.prompt_version = r.prompt_version`;

/** When a pending or in-flight request is stuck: its own stage deadline, else `$2` ms after it last moved. */
const DEADLINE = `COALESCE(r.stage_deadline_at, r.updated_at + make_interval(secs => $2::float8 / 1000))`;

/**
 * How many pending or in-flight requests are stranded and how many are stuck, by the rules of `reconcile`
 * (which calls it): the figures of `cascade reconcile`, `GET /reconcile` and the poller's metrics.
 */
export async function countStrandedAndStuck(
  manager: EntityManager,
  options: Pick<ReconcileOptions, 'defaultStageDeadlineMs' | 'strandedAfterMs'>,
): Promise<{ stranded: number; stuck: number }> {
  const [{ stuck, stranded }] = await manager.query(
    `SELECT count(*) FILTER (WHERE ${DEADLINE} < now())::int AS stuck,
            count(*) FILTER (WHERE (${STRANDED_REASON}) IS NOT NULL)::int AS stranded
     ${REQUEST_JOINS} WHERE r.status IN ('pending', 'in_flight')`,
    [options.strandedAfterMs ?? DEFAULT_STRANDED_AFTER_MS, options.defaultStageDeadlineMs],
  );
  return { stranded, stuck };
}

/**
 * Proves the invariant from independent sources: the pipeline's own `requests` rows, the terminal
 * records in `results` (written by the result-writer alone), and the dead letters. Every request id is
 * terminal with a terminal record for its content, in flight with a stage, a batch and an age, or
 * dead-lettered with its reason; an in-flight one that can no longer move is stranded (named within
 * `strandedAfterMs`), one past its deadline is stuck, one no component will ever move again is lost.
 * The topics' side (terminal events, DLQ offsets) is checked by `checkTopics` where Kafka is at hand.
 */
export async function reconcile(manager: EntityManager, options: ReconcileOptions): Promise<ReconcileReport> {
  const strandedAfterMs = options.strandedAfterMs ?? DEFAULT_STRANDED_AFTER_MS;
  const [requests] = await manager.query(
    `SELECT count(*)::int AS stored,
            count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'excluded'))::int AS terminal,
            count(*) FILTER (WHERE status IN ('pending', 'in_flight'))::int AS in_flight
     FROM requests`,
  );
  // Terminal counts from the terminal records, not from the requests' own status column.
  const [records] = await manager.query(
    `SELECT count(*) FILTER (WHERE res.status = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE res.status = 'failed')::int AS failed,
            count(*) FILTER (WHERE res.status = 'excluded')::int AS excluded
     FROM results res JOIN requests r USING (request_id, prompt_version)
     WHERE r.status IN ('succeeded', 'failed', 'excluded') AND res.content_hash = r.content_hash`,
  );
  const deadLettered = await unstoredDeadLetterCount(manager, options.defaultPromptVersion ?? DEFAULT_PROMPT_VERSION);
  const lost: LostRequest[] = await manager.query(
    `SELECT r.request_id AS "requestId", r.prompt_version AS "promptVersion",
            'status ' || r.status || CASE WHEN res.request_id IS NULL THEN ' has no terminal record'
                                         WHEN res.status <> r.status THEN ' but its terminal record says ' || res.status
                                         ELSE ' but its terminal record is for other content' END AS reason
       FROM requests r LEFT JOIN results res ON res.request_id = r.request_id AND res.prompt_version = r.prompt_version
      WHERE r.status IN ('succeeded', 'failed', 'excluded')
        AND (res.status IS NULL OR res.status <> r.status OR res.content_hash <> r.content_hash)
     UNION ALL
     SELECT r.request_id, r.prompt_version, 'batch ' || r.current_batch_id || ' finished without an outcome for it'
       FROM requests r JOIN batches b ON b.batch_id = r.current_batch_id
      WHERE r.status = 'in_flight' AND r.stage IN ('submitting', 'submitted') AND b.state = 'finished'
     UNION ALL
     SELECT r.request_id, r.prompt_version, 'in flight in stage ' || r.stage || ' with no batch'
       FROM requests r LEFT JOIN batches b ON b.batch_id = r.current_batch_id
      WHERE r.status = 'in_flight' AND r.stage IN ('submitting', 'submitted') AND b.batch_id IS NULL
     ORDER BY 1 LIMIT 10000`,
  );
  const { stuck, stranded } = await countStrandedAndStuck(manager, { ...options, strandedAfterMs });
  const listLimit = options.listLimit ?? 1_000;
  const strandedRows: Array<Omit<StrandedRequest, 'since'> & HeldColumns & { since: Date }> = await manager.query(
    `SELECT * FROM (
       SELECT r.request_id AS "requestId", r.prompt_version AS "promptVersion", r.stage, r.current_batch_id AS "batchId",
              b.lease_owner AS holder, r.updated_at AS since, ${STRANDED_REASON} AS reason, ${HELD_COLUMNS}
       ${REQUEST_JOINS} WHERE r.status = 'in_flight') s
     WHERE reason IS NOT NULL ORDER BY since LIMIT $2`,
    [strandedAfterMs, listLimit],
  );
  const rows: Array<Omit<InFlightRequest, 'ageMs' | 'deadlineAt'> & HeldColumns & { ageMs: string; deadlineAt: Date | null }> = await manager.query(
    `SELECT r.request_id AS "requestId", r.prompt_version AS "promptVersion", r.status, r.stage, r.current_batch_id AS "batchId",
            r.attempt, (extract(epoch FROM now() - r.ingested_at) * 1000)::bigint AS "ageMs",
            ${DEADLINE} AS "deadlineAt", ${DEADLINE} < now() AS stuck, ${STRANDED_REASON} AS stranded, ${HELD_COLUMNS}
     ${REQUEST_JOINS} WHERE r.status IN ('pending', 'in_flight')
     ORDER BY (${STRANDED_REASON}) IS NULL, (${DEADLINE} < now()) DESC, r.ingested_at LIMIT $3`,
    [strandedAfterMs, options.defaultStageDeadlineMs, listLimit],
  );
  const inFlightRequests = rows.map(({ heldAttempts, heldReason, ...row }) => ({
    ...row,
    ageMs: Number(row.ageMs),
    deadlineAt: row.deadlineAt ? new Date(row.deadlineAt).toISOString() : null,
    stranded: strandedText(row.stranded, row.batchId, { heldAttempts, heldReason }),
  }));
  const ingested = requests.stored + deadLettered;
  const settled = records.succeeded + records.failed + records.excluded;
  const checks: LedgerCheck[] = [
    {
      name: 'terminal requests have their terminal record',
      ok: settled === requests.terminal,
      detail: `${requests.terminal} requests terminal, ${settled} terminal records for their content`,
    },
    {
      name: 'nothing stranded',
      ok: stranded === 0,
      detail: stranded === 0 ? 'every in-flight request can still move' : `${stranded} in-flight requests can no longer move`,
    },
  ];
  return {
    checkedAt: new Date().toISOString(),
    ingested,
    succeeded: records.succeeded,
    failed: records.failed,
    excluded: records.excluded,
    deadLettered,
    inFlight: requests.in_flight,
    invariantHolds:
      ingested === settled + deadLettered + requests.in_flight && lost.length === 0 && checks.every((check) => check.ok),
    checks,
    lost,
    stuck,
    stranded,
    strandedRequests: strandedRows.map(({ heldAttempts, heldReason, ...row }) => ({
      ...row,
      since: new Date(row.since).toISOString(),
      reason: strandedText(row.reason, row.batchId, { heldAttempts, heldReason })!,
    })),
    inFlightRequests,
    inFlightListed: inFlightRequests.length,
  };
}

/** The invariant as one line: `ingested N = succeeded … + in flight …`. */
export function ledgerEquation(report: ReconcileReport): string {
  return (
    `ingested ${report.ingested} = succeeded ${report.succeeded} + failed ${report.failed} + excluded ${report.excluded}` +
    ` + dead-lettered ${report.deadLettered} + in flight ${report.inFlight}`
  );
}

/** Whether `cascade reconcile` should exit 1: anything lost, stranded or stuck, or a broken check. */
export function reconcileFailed(report: ReconcileReport): boolean {
  return report.lost.length > 0 || report.stranded > 0 || report.stuck > 0 || !report.invariantHolds;
}

export function formatReconcile(report: ReconcileReport): string {
  const lines = [
    ledgerEquation(report),
    `lost: ${report.lost.length}   stranded: ${report.stranded}   stuck: ${report.stuck}   invariant: ${report.invariantHolds ? 'holds' : 'BROKEN'}`,
  ];
  for (const check of report.checks) lines.push(`  ${check.ok ? 'ok  ' : 'FAIL'}  ${check.name}: ${check.detail}`);
  for (const item of report.lost.slice(0, 50)) lines.push(`  LOST  ${item.requestId} (${item.promptVersion}): ${item.reason}`);
  for (const item of report.strandedRequests.slice(0, 50)) {
    lines.push(`  STRANDED  ${item.requestId} (${item.promptVersion})  stage ${item.stage}  since ${item.since}: ${item.reason}`);
  }
  for (const item of report.inFlightRequests.filter((r) => !r.stranded).slice(0, 50)) {
    lines.push(
      `  ${item.stuck ? 'STUCK' : 'in flight'}  ${item.requestId}  stage ${item.stage}  batch ${item.batchId ?? '-'}  attempt ${item.attempt}  age ${Math.round(item.ageMs / 1000)}s`,
    );
  }
  if (report.inFlight > 50) lines.push(`  … ${report.inFlight - 50} more in flight (use --json for the full list)`);
  return lines.join('\n');
}
