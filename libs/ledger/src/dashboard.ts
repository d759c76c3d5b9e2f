import type { EntityManager } from 'typeorm';
import { type ModelPrice, type RunReport, runReport } from './run-report.js';

export interface BatchInFlight {
  batchId: string;
  providerBatchId: string | null;
  pass: number;
  model: string;
  state: string;
  providerStatus: string | null;
  requests: number;
  ageSeconds: number;
}

export interface DashboardSnapshot {
  at: string;
  requestsByStage: Array<{ status: string; stage: string; count: number }>;
  batchesInFlight: BatchInFlight[];
  run: RunReport;
}

/** What the live dashboard shows, from the database in one go (consumer lag is added by the caller). */
export async function dashboardSnapshot(
  manager: EntityManager,
  options: { strongModel: string; strongPrice: ModelPrice; defaultStageDeadlineMs: number; strandedAfterMs?: number; defaultPromptVersion?: string },
): Promise<DashboardSnapshot> {
  const requestsByStage = await manager.query(
    `SELECT status, stage, count(*)::int AS count FROM requests GROUP BY status, stage ORDER BY status, stage`,
  );
  const batchesInFlight: BatchInFlight[] = (
    await manager.query(
      `SELECT batch_id, provider_batch_id, pass, model, state, provider_status, request_count,
              extract(epoch FROM now() - created_at)::float8 AS age
       FROM batches WHERE state IN ('creating', 'submitted') ORDER BY created_at LIMIT 200`,
    )
  ).map((row: Record<string, unknown>) => ({
    batchId: String(row.batch_id),
    providerBatchId: (row.provider_batch_id as string | null) ?? null,
    pass: Number(row.pass),
    model: String(row.model),
    state: String(row.state),
    providerStatus: (row.provider_status as string | null) ?? null,
    requests: Number(row.request_count),
    ageSeconds: Math.round(Number(row.age)),
  }));
  return { at: new Date().toISOString(), requestsByStage, batchesInFlight, run: await runReport(manager, options) };
}
