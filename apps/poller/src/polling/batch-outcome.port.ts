import type { FailedRequest, RequestMetadata, SucceededRequest } from '#contracts';
import type { BilledCost } from '#groq-batch';

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
  /** What the provider bills for the batch: answered, failed attempts with usage, and estimated. */
  cost: BilledCost;
  /** Lines that named ids we never sent, or named one twice: kept for the log, never silently merged. */
  anomalies: string[];
}

/** The batch as the outcome reader sees it. */
export interface BatchToCollect {
  batchId: string;
  /** What a provider without batch metadata ties its lines to the batch by (Anthropic's custom_ids). */
  batchKey: string;
  pass: number;
  model: string;
  promptVersion: string;
  maxTokens: number;
}

/**
 * Prompt tokens of sent lines, estimated from the request body we built for each (the estimator quotas
 * use): what a billed failed line costs when its error line carries no usage.
 */
export interface PromptTokenEstimator {
  promptTokens(batch: BatchToCollect, requestIds: readonly string[]): Promise<Map<string, number>>;
}

/** What the poller needs from the provider layer: the batch's state, every sent id's outcome, and the input file gone. */
export interface BatchOutcomeReader {
  retrieve(providerBatchId: string): Promise<ProviderBatchState>;
  /** Asks the provider to cancel; returns the batch's status after the request. */
  cancel(providerBatchId: string): Promise<string>;
  collect(state: ProviderBatchState, batch: BatchToCollect, sent: RequestMetadata[]): Promise<CollectedOutcome>;
  /** Deletes a finished batch's input file at the provider; a file already gone counts as deleted. */
  deleteInputFile(fileId: string): Promise<void>;
}

/** The outcome reader of each batch's provider, found by the batch's model id. */
export interface BatchOutcomeReaders {
  for(model: string): BatchOutcomeReader;
}

export const BATCH_OUTCOME_READERS = Symbol('BATCH_OUTCOME_READERS');
