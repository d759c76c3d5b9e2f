import { type BatchRow, estimateInputTokens, type LineBuilder, requestBodyChars } from '#batching';
import type { RequestMetadata } from '#contracts';
import type { DataSource } from 'typeorm';
import type { BatchTrackingRepository } from '../tracking/batch-tracking.repository.js';
import type { BatchToCollect, PromptTokenEstimator } from './batch-outcome.port.js';

/**
 * Rebuilds each line's request body with the assembler's line builder and estimates its input with the
 * quotas' estimator: there is one estimate of input tokens in the whole system.
 */
export function estimatePromptTokens(
  items: ReadonlyArray<{ metadata: RequestMetadata; pr: Record<string, unknown> }>,
  batch: BatchToCollect,
  buildLine: LineBuilder,
): Map<string, number> {
  const row: BatchRow = {
    batch_id: batch.batchId,
    batch_key: batch.batchKey,
    pass: batch.pass,
    model: batch.model,
    prompt_version: batch.promptVersion,
    max_tokens: batch.maxTokens,
    request_count: items.length,
  };
  return new Map(items.map((item) => [item.metadata.requestId, estimateInputTokens(requestBodyChars(buildLine(item, row).body))]));
}

/** PRs read at a time: a batch that failed whole must not load every PR text of 50,000 lines at once. */
const CHUNK = 500;

/** Estimates from the stored PRs; only failed lines without usage are rebuilt (usually a few per cent of a batch). */
export class StoredRequestPromptEstimator implements PromptTokenEstimator {
  constructor(
    private readonly dataSource: DataSource,
    private readonly tracking: BatchTrackingRepository,
    private readonly buildLine: LineBuilder,
  ) {}

  async promptTokens(batch: BatchToCollect, requestIds: readonly string[]): Promise<Map<string, number>> {
    const estimates = new Map<string, number>();
    for (let at = 0; at < requestIds.length; at += CHUNK) {
      const items = await this.tracking.inputsOf(this.dataSource.manager, batch.batchId, requestIds.slice(at, at + CHUNK));
      for (const [requestId, tokens] of estimatePromptTokens(items, batch, this.buildLine)) estimates.set(requestId, tokens);
    }
    return estimates;
  }
}
