import type { TerminalStatus } from '#contracts';

/**
 * Where a request is, as one type and one database check: every status and the stages it allows.
 * `pending` waits for an assembler; `in_flight` is owned by a batch or waits for the service that
 * decides next (the result-writer: `awaiting_merge`, the retry-service: `awaiting_retry`); the three
 * terminal statuses (the contracts' `TERMINAL_STATUSES`, the statuses of results.merged.v1) are written only
 * by the result-writer, together with the request's terminal record.
 */
export const REQUEST_STAGES = {
  pending: ['queued', 'retry_queued'],
  in_flight: ['submitting', 'submitted', 'awaiting_merge', 'awaiting_retry'],
  succeeded: ['merged', 'reused'],
  failed: ['merged'],
  excluded: ['excluded'],
} as const satisfies Record<'pending' | 'in_flight' | TerminalStatus, readonly string[]>;

export type RequestStatus = keyof typeof REQUEST_STAGES;
export type RequestStage = (typeof REQUEST_STAGES)[RequestStatus][number];

const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** The SQL check that keeps `requests.status` and `requests.stage` to the pairs above. */
export function requestStageCheckSql(): string {
  return Object.entries(REQUEST_STAGES)
    .map(([status, stages]) => `(status = ${quote(status)} AND stage IN (${stages.map(quote).join(', ')}))`)
    .join(' OR ');
}

/**
 * `<column> IN (…)` over the stages of `status`: under the check above, the same rows as `status = '…'`,
 * but a condition no index serves (`stage` is in none). Updates that name their requests by primary key use
 * it: with `status = 'in_flight'` the planner, on stale statistics, intersected each key's lookup with a
 * walk of the status index over every in-flight request and their dead row versions (170 ms a key at
 * 165,000 in-flight entries in the 100,000-PR bench). See migration 1763900012000.
 */
export function stageOf(column: string, status: RequestStatus): string {
  return `${column} IN (${REQUEST_STAGES[status].map(quote).join(', ')})`;
}
