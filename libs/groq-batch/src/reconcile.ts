import { type FailedOutcome, type LineOutcome, OUR_CODES, type SucceededOutcome } from './outcome.js';

export interface ReconciledBatch {
  succeeded: SucceededOutcome[];
  failed: FailedOutcome[];
  /** ids found in the files that were never sent in this batch. */
  unexpected: string[];
}

const UNFINISHED: Record<string, { code: string; message: string }> = {
  expired: { code: OUR_CODES.batchExpired, message: 'the batch expired before this request ran' },
  cancelled: { code: OUR_CODES.batchCancelled, message: 'the batch was cancelled before this request ran' },
  cancelling: { code: OUR_CODES.batchCancelled, message: 'the batch was cancelled before this request ran' },
  failed: { code: OUR_CODES.batchFailed, message: 'the batch failed validation: nothing ran' },
};

/**
 * Every id we sent is exactly one of succeeded or failed(code). The failed set is the union of the
 * error-file ids, the unparsable or schema-invalid lines, the unfinished requests of an expired,
 * cancelled or failed batch, and the ids absent from both files (`missing`).
 */
export function reconcileBatch(
  sent: readonly string[],
  batchStatus: string,
  outcomes: ReadonlyMap<string, LineOutcome>,
  batchErrors: string | null = null,
): ReconciledBatch {
  const result: ReconciledBatch = { succeeded: [], failed: [], unexpected: [] };
  const sentSet = new Set(sent);
  for (const id of sent) {
    const outcome = outcomes.get(id);
    if (outcome?.kind === 'succeeded') result.succeeded.push(outcome);
    else if (outcome) result.failed.push(outcome);
    else {
      const unfinished = UNFINISHED[batchStatus];
      result.failed.push({
        kind: 'failed',
        customId: id,
        code: unfinished?.code ?? OUR_CODES.missing,
        message: unfinished
          ? `${unfinished.message}${batchErrors ? `: ${batchErrors}` : ''}`
          : `absent from both the output and the error file of a ${batchStatus} batch`,
        httpStatus: null,
        failedGeneration: null,
        raw: null,
        usage: null,
      });
    }
  }
  for (const id of outcomes.keys()) if (!sentSet.has(id)) result.unexpected.push(id);
  return result;
}

/** Batch-level validation errors come as `{object:'list', data:[…]}` or as a bare array: accept both. */
export function describeBatchErrors(errors: unknown): string | null {
  const list = Array.isArray(errors) ? errors : Array.isArray((errors as { data?: unknown })?.data) ? (errors as { data: unknown[] }).data : [];
  if (list.length === 0) return null;
  return list
    .slice(0, 5)
    .map((e) => {
      const item = e as { code?: string; message?: string; line?: number };
      return `${item.code ?? 'error'}${item.line !== undefined ? ` (line ${item.line})` : ''}: ${item.message ?? ''}`;
    })
    .join('; ');
}
