import type { FailedRequest, RequestMetadata, SucceededRequest } from '#contracts';

export const TERMINAL_PROVIDER_STATUSES = new Set(['completed', 'failed', 'expired', 'cancelled']);

export interface ProviderBatchState {
  providerBatchId: string;
  status: string;
  outputFileId: string | null;
  errorFileId: string | null;
  counts: { total: number; completed: number; failed: number };
  /** Batch-level validation errors, when the provider gives them. */
  errors: string | null;
}

export interface CollectedOutcome {
  succeeded: SucceededRequest[];
  failed: FailedRequest[];
  costUsd: number;
  /** Lines that named ids we never sent, or named one twice: kept for the log, never silently merged. */
  anomalies: string[];
}

/** What the poller needs from the provider layer: the batch's state, and every sent id's outcome. */
export interface BatchOutcomeReader {
  retrieve(providerBatchId: string): Promise<ProviderBatchState>;
  /** Asks the provider to cancel; returns the batch's status after the request. */
  cancel(providerBatchId: string): Promise<string>;
  collect(
    state: ProviderBatchState,
    batch: { batchId: string; pass: number; model: string; maxTokens: number },
    sent: RequestMetadata[],
  ): Promise<CollectedOutcome>;
}

export const BATCH_OUTCOME_READER = Symbol('BATCH_OUTCOME_READER');
