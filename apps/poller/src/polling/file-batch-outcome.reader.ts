import type { RequestMetadata } from '#contracts';
import { collectOutcomes, type CompatibleBatchClient, describeBatchErrors, GroqBatchError, type PriceTable, type PromptRegistry } from '#groq-batch';
import { batchOutcomeOf } from './batch-outcome.js';
import type { BatchOutcomeReader, BatchToCollect, CollectedOutcome, PromptTokenEstimator, ProviderBatchState } from './batch-outcome.port.js';

/**
 * The poller's provider side on a Files + Batches API (Groq's, OpenAI's): stream the output and error
 * files, validate each line, reconcile every sent id.
 */
export class FileBatchOutcomeReader implements BatchOutcomeReader {
  constructor(
    private readonly client: CompatibleBatchClient,
    private readonly prices: PriceTable,
    private readonly estimator: PromptTokenEstimator,
    private readonly prompts: PromptRegistry,
  ) {}

  async retrieve(providerBatchId: string): Promise<ProviderBatchState> {
    const batch = await this.client.retrieveBatch(providerBatchId);
    return {
      providerBatchId,
      status: batch.status,
      outputFileId: batch.output_file_id ?? null,
      errorFileId: batch.error_file_id ?? null,
      counts: {
        total: batch.request_counts?.total ?? 0,
        completed: batch.request_counts?.completed ?? 0,
        failed: batch.request_counts?.failed ?? 0,
      },
      errors: describeBatchErrors(batch.errors),
    };
  }

  async cancel(providerBatchId: string): Promise<string> {
    return (await this.client.cancelBatch(providerBatchId)).status;
  }

  async deleteInputFile(fileId: string): Promise<void> {
    try {
      await this.client.deleteFile(fileId);
    } catch (error) {
      // 404: gone already (an earlier attempt whose answer was lost, another replica, the provider's expiry).
      if (!(error instanceof GroqBatchError && error.status === 404)) throw error;
    }
  }

  async collect(state: ProviderBatchState, batch: BatchToCollect, sent: RequestMetadata[]): Promise<CollectedOutcome> {
    const sources = [];
    if (state.outputFileId) sources.push({ source: 'output' as const, lines: this.client.fileLines(state.outputFileId) });
    if (state.errorFileId) sources.push({ source: 'error' as const, lines: this.client.fileLines(state.errorFileId) });
    // One batch holds one prompt version: its answers are checked against that version's schema.
    const collected = await collectOutcomes(sources, { promptVersion: sent[0]?.promptVersion, registry: this.prompts });
    return batchOutcomeOf(collected, state, batch, sent, this.prices, this.estimator);
  }
}
