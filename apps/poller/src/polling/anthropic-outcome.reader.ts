import { anthropicStatusOf } from '#batching';
import type { RequestMetadata } from '#contracts';
import { type AnthropicBatchClient, collectAnthropicOutcomes, customIdMap } from '#anthropic-batch';
import type { PriceTable, PromptRegistry } from '#groq-batch';
import { batchOutcomeOf } from './batch-outcome.js';
import type { BatchOutcomeReader, BatchToCollect, CollectedOutcome, PromptTokenEstimator, ProviderBatchState } from './batch-outcome.port.js';

/**
 * The poller's provider side on Anthropic's Message Batches: one results stream per ended batch, each line
 * validated, its custom_id mapped back to the request id it was made from, every sent id reconciled.
 */
export class AnthropicOutcomeReader implements BatchOutcomeReader {
  constructor(
    private readonly client: AnthropicBatchClient,
    private readonly prices: PriceTable,
    private readonly estimator: PromptTokenEstimator,
    private readonly prompts: PromptRegistry,
  ) {}

  async retrieve(providerBatchId: string): Promise<ProviderBatchState> {
    const batch = await this.client.retrieveBatch(providerBatchId);
    const c = batch.request_counts;
    return {
      providerBatchId,
      status: anthropicStatusOf(batch),
      // No files: the results stream is read by batch id.
      outputFileId: null,
      errorFileId: null,
      counts: { total: c.processing + c.succeeded + c.errored + c.canceled + c.expired, completed: c.succeeded, failed: c.errored + c.canceled + c.expired },
      errors: null,
    };
  }

  async cancel(providerBatchId: string): Promise<string> {
    return anthropicStatusOf(await this.client.cancelBatch(providerBatchId));
  }

  /** The requests were sent inline: no input file exists at the provider (the submitter's spool is its own). */
  async deleteInputFile(): Promise<void> {}

  async collect(state: ProviderBatchState, batch: BatchToCollect, sent: RequestMetadata[]): Promise<CollectedOutcome> {
    const requestIds = customIdMap(batch.batchKey, sent.map((request) => request.requestId));
    const collected = await collectAnthropicOutcomes(this.client.resultLines(state.providerBatchId), {
      // One batch holds one prompt version: its answers are checked against that version's schema.
      validate: this.prompts.get(batch.promptVersion).validate,
      requestIdOf: (customId) => requestIds.get(customId),
    });
    return batchOutcomeOf(collected, state, batch, sent, this.prices, this.estimator);
  }
}
