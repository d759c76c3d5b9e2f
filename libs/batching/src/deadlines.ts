import { ConfigError } from '#platform';
import { z } from 'zod';
import { jsonObjectEnv } from './pipeline-settings.js';

const HOUR_MS = 3_600_000;

/** `{"payments": 4}`: hours after the event's occurredAt by which a team's PRs without their own `deadlineAt` are due. */
const deadlineDefaultsJson = jsonObjectEnv(z.record(z.string().min(1), z.number().positive().max(24 * 366)));
export type DeadlineDefaults = z.infer<typeof deadlineDefaultsJson>;

/** The batch-submitter's deadline variable: the per-team default stored with each request at ingestion. */
export const deadlineDefaultsEnv = z.object({ DEADLINE_DEFAULTS_JSON: deadlineDefaultsJson });

/**
 * A request's deadline: its own `deadlineAt`, else its team's default after the event's `occurredAt`, else none.
 * Computed from the event alone, so a replay of the same event computes the same deadline.
 */
export function deadlineOf(payload: { team: string; deadlineAt?: string }, occurredAt: string, defaults: DeadlineDefaults): string | null {
  if (payload.deadlineAt) return new Date(payload.deadlineAt).toISOString();
  const hours = defaults[payload.team];
  return hours === undefined ? null : new Date(Date.parse(occurredAt) + hours * HOUR_MS).toISOString();
}

/** The poller's deadline variables (the deadline sweep answers on demand what a batch cannot answer in time). */
export const deadlineEnv = z.object({
  DEADLINES: z.enum(['off', 'on']).default('off'),
  /** On-demand spend per UTC day, at full price; required when DEADLINES=on (checked by `deadlineSettingsFrom`). */
  ON_DEMAND_DAILY_BUDGET_USD: z.coerce.number().positive().optional(),
  /** How long before a request's deadline the pipeline stops waiting for its batch. */
  DEADLINE_MARGIN_MS: z.coerce.number().int().nonnegative().default(15 * 60 * 1000),
  /** On-demand calls one poller makes at once. */
  ON_DEMAND_CONCURRENCY: z.coerce.number().int().positive().max(64).default(4),
});
export type DeadlineEnv = z.infer<typeof deadlineEnv>;

export interface DeadlineSettings {
  marginMs: number;
  dailyBudgetUsd: number;
  concurrency: number;
}

/** Null when deadlines are off; on, the budget must be set (the two variables depend on each other, so no field's schema can say it). */
export function deadlineSettingsFrom(env: DeadlineEnv): DeadlineSettings | null {
  if (env.DEADLINES === 'off') return null;
  if (env.ON_DEMAND_DAILY_BUDGET_USD === undefined) throw new ConfigError('ON_DEMAND_DAILY_BUDGET_USD', 'is required when DEADLINES=on');
  return { marginMs: env.DEADLINE_MARGIN_MS, dailyBudgetUsd: env.ON_DEMAND_DAILY_BUDGET_USD, concurrency: env.ON_DEMAND_CONCURRENCY };
}

/**
 * Whether one more on-demand call may be made: what today's on-demand calls cost or may still cost, plus
 * this call's worst case (its whole output budget), must stay within the budget. Null when it may, else why not.
 */
export function onDemandRefusal(spend: { settledUsd: number; reservedUsd: number }, worstCaseUsd: number, budgetUsd: number): string | null {
  const committed = spend.settledUsd + spend.reservedUsd;
  if (committed + worstCaseUsd <= budgetUsd) return null;
  return (
    `on-demand budget $${budgetUsd.toFixed(4)} reached: $${committed.toFixed(4)} committed today (UTC)` +
    ` and the next call may cost $${worstCaseUsd.toFixed(4)}; requests past their deadline wait for their batch`
  );
}
