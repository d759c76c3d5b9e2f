import type { CollectedOutcomes, DuplicateLine } from './parse.js';
import { type FailedOutcome, type FailureCause, type LineOutcome, type MalformedLine, OUR_CODES, type SucceededOutcome } from './outcome.js';

/** The provider's batch statuses; only the terminal ones have final files. */
export const TERMINAL_BATCH_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** Statuses of a batch that will never run its lines (or has stopped running them): not worth adopting. */
const NEVER_RUNS: ReadonlySet<string> = new Set(['cancelling', 'cancelled', 'expired']);

/**
 * Of the provider batches made for one key, the one to adopt: a batch that ran or can still run before one
 * that failed, then the oldest (it has come furthest). Null when none will run its lines. The one rule, for
 * the client adopting after a lost create and for a submission resuming.
 */
export function adoptableBatch<T extends { status: string; createdAt: number }>(batches: readonly T[]): T | null {
  const rank = (batch: T) => (batch.status === 'failed' ? 1 : 0);
  return [...batches].filter((batch) => !NEVER_RUNS.has(batch.status)).sort((a, b) => rank(a) - rank(b) || a.createdAt - b.createdAt)[0] ?? null;
}

/** A validation error the provider attached to a failed batch (`line` is the input line, from 1). */
export interface BatchValidationError {
  code: string | null;
  message: string | null;
  param: string | null;
  line: number | null;
}

/** Batch `errors` come as `{object:'list', data:[…]}` (SDK type) or as a bare array (Groq's guide): accept both. */
export function batchErrorsOf(errors: unknown): BatchValidationError[] {
  const list = Array.isArray(errors) ? errors : Array.isArray((errors as { data?: unknown } | null)?.data) ? (errors as { data: unknown[] }).data : [];
  return list
    .filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null)
    .map((item) => ({
      code: typeof item.code === 'string' ? item.code : null,
      message: typeof item.message === 'string' ? item.message : null,
      param: typeof item.param === 'string' ? item.param : null,
      line: typeof item.line === 'number' ? item.line : null,
    }));
}

/** One line for a log or a failure message, naming the first few errors. */
export function describeBatchErrors(errors: unknown): string | null {
  const list = batchErrorsOf(errors);
  if (list.length === 0) return null;
  const shown = list
    .slice(0, 5)
    .map((e) => `${e.code ?? 'error'}${e.line !== null ? ` (line ${e.line})` : ''}${e.message ? `: ${e.message}` : ''}`)
    .join('; ');
  return list.length > 5 ? `${shown}; and ${list.length - 5} more` : shown;
}

/** What reconciliation needs of a provider batch: its status, and its errors when it failed. */
export interface BatchToReconcile {
  id?: string;
  status: string;
  errors?: unknown;
}

export interface ReconciledBatch {
  succeeded: SucceededOutcome[];
  /**
   * Every sent id that did not succeed, one entry each: error-file lines, unusable or unreadable
   * lines, unfinished requests of an expired / cancelled / failed batch, and missing ids.
   */
  failed: FailedOutcome[];
  /** The ids among `failed` with code `missing`: absent from both files of a completed batch. */
  missing: string[];
  /** ids found in the files that were never sent in this batch (not counted as outcomes). */
  unexpected: string[];
  duplicates: DuplicateLine[];
  /** Lines no request could be attributed to; the requests they were for show up as missing. */
  unreadable: MalformedLine[];
  batchErrors: string | null;
}

const UNFINISHED: Record<string, { code: string; reason: string }> = {
  expired: { code: OUR_CODES.batchExpired, reason: 'the batch expired before this request ran' },
  cancelled: { code: OUR_CODES.batchCancelled, reason: 'the batch was cancelled before this request ran' },
  failed: { code: OUR_CODES.batchFailed, reason: 'the batch failed validation, so nothing ran' },
};

function asFailure(outcome: Exclude<LineOutcome, SucceededOutcome>): FailedOutcome {
  const location = { source: outcome.source, lineNumber: outcome.lineNumber };
  const common = { kind: 'failed' as const, customId: outcome.customId, code: outcome.code, message: outcome.message, location };
  switch (outcome.kind) {
    case 'provider_error':
      return {
        ...common,
        cause: 'provider_error',
        httpStatus: outcome.httpStatus,
        errorType: outcome.type,
        failedGeneration: outcome.failedGeneration,
        raw: null,
        usage: outcome.usage,
      };
    case 'invalid_output':
      return { ...common, cause: 'invalid_output', httpStatus: 200, errorType: null, failedGeneration: null, raw: outcome.raw, usage: outcome.usage };
    case 'malformed':
      return { ...common, cause: 'malformed', httpStatus: null, errorType: null, failedGeneration: null, raw: outcome.raw, usage: null };
  }
}

function absent(customId: string, cause: FailureCause, code: string, message: string): FailedOutcome {
  return { kind: 'failed', customId, cause, code, message, httpStatus: null, errorType: null, failedGeneration: null, raw: null, usage: null, location: null };
}

/**
 * Accounts for every id we sent: each is exactly one of succeeded or failed(code), and `missing`
 * names the failed ones that are absent from both files. The failed set is the union of the
 * error-file ids, the unusable or unreadable lines, the unfinished requests of an expired,
 * cancelled or failed batch (`batch_expired` / `batch_cancelled` / `batch_failed`, whether the
 * provider wrote them to the error file or left them out) and the ids absent from both files.
 *
 * `batch` is the provider batch (or just its status); `found` the collected outcomes (or their map).
 * A batch that is not terminal yet is refused: its files are not final.
 */
export function reconcileBatch(
  sent: readonly string[],
  batch: BatchToReconcile | string,
  found: CollectedOutcomes | ReadonlyMap<string, LineOutcome>,
  batchErrors?: unknown,
): ReconciledBatch {
  const { id: batchId, status, errors } = typeof batch === 'string' ? { id: undefined, status: batch, errors: undefined } : batch;
  const where = batchId ? `batch ${batchId}` : 'a batch';
  if (!TERMINAL_BATCH_STATUSES.has(status)) {
    throw new Error(`cannot reconcile ${where} in status ${status}: only completed, failed, expired or cancelled batches have final files`);
  }
  const outcomes = found instanceof Map ? found : (found as CollectedOutcomes).outcomes;
  const collected = found instanceof Map ? null : (found as CollectedOutcomes);
  const sentSet = new Set(sent);
  if (sentSet.size !== sent.length) {
    const seen = new Set<string>();
    const repeated = [...new Set(sent.filter((id) => (seen.has(id) ? true : (seen.add(id), false))))];
    throw new Error(`cannot reconcile ${where}: the sent ids repeat ${repeated.slice(0, 20).join(', ')}`);
  }
  const errorSummary = typeof batchErrors === 'string' ? batchErrors : describeBatchErrors(batchErrors ?? errors);
  const result: ReconciledBatch = {
    succeeded: [],
    failed: [],
    missing: [],
    unexpected: [],
    duplicates: collected?.duplicates ?? [],
    unreadable: collected?.malformed ?? [],
    batchErrors: errorSummary,
  };
  const unreadableNote = result.unreadable.length ? `; ${result.unreadable.length} unreadable line(s) in the files may have been for it` : '';
  const unfinished = UNFINISHED[status];
  for (const customId of sent) {
    const outcome = outcomes.get(customId);
    if (outcome?.kind === 'succeeded') result.succeeded.push(outcome);
    else if (outcome) result.failed.push(asFailure(outcome));
    else if (unfinished) {
      const detail = status === 'failed' && errorSummary ? `: ${errorSummary}` : '';
      result.failed.push(absent(customId, 'unfinished', unfinished.code, `${unfinished.reason}${detail}${unreadableNote}`));
    } else {
      result.missing.push(customId);
      result.failed.push(absent(customId, 'missing', OUR_CODES.missing, `absent from both the output and the error file of completed ${where}${unreadableNote}`));
    }
  }
  for (const customId of outcomes.keys()) if (!sentSet.has(customId)) result.unexpected.push(customId);
  return result;
}
