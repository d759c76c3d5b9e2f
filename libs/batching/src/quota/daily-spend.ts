import type { EntityManager } from 'typeorm';

/** Today's spend (UTC day of submission): billed for finished batches, reserved (the worst case) for open ones. */
export interface DailySpend {
  /** What the provider billed for the finished batches submitted today. */
  settledUsd: number;
  /** The reservations of today's batches still open (being created or at the provider): the most they can cost. */
  reservedUsd: number;
}

/**
 * Read from `batches`, the one record every replica and service shares: a batch counts on the UTC day it was
 * formed, its reservation while open, what it was billed once finished (a cancelled or expired batch only
 * its billed lines, so the rest of its reservation is released), nothing if it never reached the provider.
 */
export async function dailySpend(manager: EntityManager, at: Date = new Date()): Promise<DailySpend> {
  const [row] = await manager.query(
    `SELECT coalesce(sum(cost_usd) FILTER (WHERE state = 'finished'), 0)::float8 AS "settledUsd",
            coalesce(sum(reserved_usd) FILTER (WHERE state IN ('creating', 'submitted')), 0)::float8 AS "reservedUsd"
     FROM batches
     WHERE created_at >= date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
       AND created_at < (date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC'`,
    [at.toISOString()],
  );
  return { settledUsd: Number(row.settledUsd), reservedUsd: Number(row.reservedUsd) };
}
