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

/** The SQL check that keeps `requests.status` and `requests.stage` to the pairs above. */
export function requestStageCheckSql(): string {
  const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;
  return Object.entries(REQUEST_STAGES)
    .map(([status, stages]) => `(status = ${quote(status)} AND stage IN (${stages.map(quote).join(', ')}))`)
    .join(' OR ');
}
