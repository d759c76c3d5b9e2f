import type { EntityManager } from 'typeorm';
import { dayBucket } from './quota-store.js';

/**
 * Provider batches (`batch`) and on-demand calls made for requests past their deadline (`on_demand`): each has
 * its own budget (DAILY_SPEND_BUDGET_USD, ON_DEMAND_DAILY_BUDGET_USD), so each is counted apart.
 */
export type BatchMode = 'batch' | 'on_demand';

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
export async function dailySpend(manager: EntityManager, at: Date = new Date(), mode: BatchMode = 'batch'): Promise<DailySpend> {
  // The same UTC day as the request and token counters.
  const dayStart = new Date(`${dayBucket(at)}T00:00:00.000Z`);
  const [row] = await manager.query(
    `SELECT coalesce(sum(cost_usd) FILTER (WHERE state = 'finished'), 0)::float8 AS "settledUsd",
            coalesce(sum(reserved_usd) FILTER (WHERE state IN ('creating', 'submitted')), 0)::float8 AS "reservedUsd"
     FROM batches
     WHERE created_at >= $1 AND created_at < $2 AND mode = $3`,
    [dayStart.toISOString(), new Date(dayStart.getTime() + 86_400_000).toISOString(), mode],
  );
  return { settledUsd: Number(row.settledUsd), reservedUsd: Number(row.reservedUsd) };
}
