import type { DataSource } from 'typeorm';

export interface StageCounts {
  ingested: number;
  excluded: number;
  submitted: number;
  passOneDone: number;
  passOneFailed: number;
  retried: number;
  merged: number;
  /** In a batch, or failed and queued for the next pass: work that is under way. */
  underWay: number;
}

/** One query for every stage bar: where the run's requests are right now. */
export async function stageCounts(dataSource: DataSource): Promise<StageCounts> {
  const [row] = await dataSource.query(`
    SELECT
      (SELECT count(*) FROM requests)::int AS ingested,
      (SELECT count(*) FROM requests WHERE status = 'excluded')::int AS excluded,
      (SELECT count(DISTINCT i.request_id) FROM batch_items i JOIN batches b USING (batch_id)
        WHERE b.pass = 1 AND b.state IN ('submitted', 'finished'))::int AS submitted,
      (SELECT count(*) FROM batch_items i JOIN batches b USING (batch_id) WHERE b.pass = 1 AND b.state = 'finished')::int AS "passOneDone",
      (SELECT count(*) FROM attempts WHERE pass = 1 AND outcome = 'failed')::int AS "passOneFailed",
      (SELECT count(DISTINCT i.request_id) FROM batch_items i JOIN batches b USING (batch_id)
        WHERE b.pass >= 2 AND b.state IN ('submitted', 'finished'))::int AS retried,
      (SELECT count(*) FROM requests WHERE status IN ('succeeded', 'failed', 'excluded'))::int AS merged,
      (SELECT count(*) FROM requests WHERE status = 'in_flight' OR (status = 'pending' AND pass >= 2))::int AS "underWay"`);
  return row as StageCounts;
}
