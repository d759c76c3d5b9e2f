import type { EntityManager } from 'typeorm';

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
}

export interface LostRequest {
  requestId: string;
  promptVersion: string;
  reason: string;
}

export interface ReconcileReport {
  checkedAt: string;
  ingested: number;
  succeeded: number;
  failed: number;
  excluded: number;
  inFlight: number;
  /** ingested = succeeded + failed + excluded + in_flight, and every terminal status has its record. */
  invariantHolds: boolean;
  lost: LostRequest[];
  stuck: number;
  inFlightRequests: InFlightRequest[];
  inFlightListed: number;
}

/**
 * Proves the invariant from the database: every request id is terminal (with its terminal record)
 * or in flight with a stage, a batch and an age; anything past its deadline is stuck, anything no
 * component will ever move again is lost.
 */
export async function reconcile(
  manager: EntityManager,
  options: { defaultStageDeadlineMs: number; listLimit?: number },
): Promise<ReconcileReport> {
  const [counts] = await manager.query(
    `SELECT count(*)::int AS ingested,
            count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'excluded')::int AS excluded,
            count(*) FILTER (WHERE status IN ('pending', 'in_flight'))::int AS in_flight
     FROM requests`,
  );
  const lost: LostRequest[] = await manager.query(
    `SELECT r.request_id AS "requestId", r.prompt_version AS "promptVersion",
            'status ' || r.status || ' has no matching terminal record' AS reason
       FROM requests r LEFT JOIN results res ON res.request_id = r.request_id AND res.prompt_version = r.prompt_version
      WHERE r.status IN ('succeeded', 'failed', 'excluded') AND (res.status IS NULL OR res.status <> r.status)
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
  const deadline = `COALESCE(stage_deadline_at, updated_at + make_interval(secs => $1::float8 / 1000))`;
  const [{ stuck }] = await manager.query(
    `SELECT count(*)::int AS stuck FROM requests WHERE status IN ('pending', 'in_flight') AND ${deadline} < now()`,
    [options.defaultStageDeadlineMs],
  );
  const rows: Array<Omit<InFlightRequest, 'ageMs' | 'deadlineAt'> & { ageMs: string; deadlineAt: Date | null }> = await manager.query(
    `SELECT request_id AS "requestId", prompt_version AS "promptVersion", status, stage, current_batch_id AS "batchId",
            attempt, (extract(epoch FROM now() - ingested_at) * 1000)::bigint AS "ageMs",
            ${deadline} AS "deadlineAt", ${deadline} < now() AS stuck
     FROM requests WHERE status IN ('pending', 'in_flight')
     ORDER BY (${deadline} < now()) DESC, ingested_at LIMIT $2`,
    [options.defaultStageDeadlineMs, options.listLimit ?? 1_000],
  );
  const inFlightRequests = rows.map((row) => ({
    ...row,
    ageMs: Number(row.ageMs),
    deadlineAt: row.deadlineAt ? new Date(row.deadlineAt).toISOString() : null,
  }));
  return {
    checkedAt: new Date().toISOString(),
    ingested: counts.ingested,
    succeeded: counts.succeeded,
    failed: counts.failed,
    excluded: counts.excluded,
    inFlight: counts.in_flight,
    invariantHolds:
      counts.ingested === counts.succeeded + counts.failed + counts.excluded + counts.in_flight && lost.length === 0,
    lost,
    stuck,
    inFlightRequests,
    inFlightListed: inFlightRequests.length,
  };
}

export function formatReconcile(report: ReconcileReport): string {
  const lines = [
    `ingested ${report.ingested} = succeeded ${report.succeeded} + failed ${report.failed} + excluded ${report.excluded} + in flight ${report.inFlight}`,
    `lost: ${report.lost.length}   stuck: ${report.stuck}   invariant: ${report.invariantHolds ? 'holds' : 'BROKEN'}`,
  ];
  for (const item of report.lost.slice(0, 50)) lines.push(`  LOST  ${item.requestId} (${item.promptVersion}): ${item.reason}`);
  for (const item of report.inFlightRequests.slice(0, 50)) {
    lines.push(
      `  ${item.stuck ? 'STUCK' : 'in flight'}  ${item.requestId}  stage ${item.stage}  batch ${item.batchId ?? '-'}  attempt ${item.attempt}  age ${Math.round(item.ageMs / 1000)}s`,
    );
  }
  if (report.inFlight > 50) lines.push(`  … ${report.inFlight - 50} more in flight (use --json for the full list)`);
  return lines.join('\n');
}
