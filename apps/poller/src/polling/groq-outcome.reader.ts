import type { FailedRequest, RequestMetadata, SucceededRequest } from '#contracts';
import {
  collectOutcomes,
  costOfUsage,
  describeBatchErrors,
  type GroqBatchClient,
  type PriceTable,
  reconcileBatch,
} from '#groq-batch';
import type { BatchOutcomeReader, CollectedOutcome, ProviderBatchState } from './batch-outcome.port.js';

/** The poller's provider side on the Groq client: stream both files, validate each line, reconcile every sent id. */
export class GroqOutcomeReader implements BatchOutcomeReader {
  constructor(
    private readonly client: GroqBatchClient,
    private readonly prices: PriceTable,
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

  async collect(
    state: ProviderBatchState,
    batch: { batchId: string; pass: number; model: string; maxTokens: number },
    sent: RequestMetadata[],
  ): Promise<CollectedOutcome> {
    const sources = [];
    if (state.outputFileId) sources.push({ source: 'output' as const, lines: this.client.fileLines(state.outputFileId) });
    if (state.errorFileId) sources.push({ source: 'error' as const, lines: this.client.fileLines(state.errorFileId) });
    // One batch holds one prompt version: its answers are checked against that version's schema.
    const collected = await collectOutcomes(sources, { promptVersion: sent[0]?.promptVersion });
    const reconciled = reconcileBatch(
      sent.map((r) => r.requestId),
      state.status,
      collected.outcomes,
      state.errors,
    );
    const metadata = new Map(sent.map((r) => [r.requestId, r]));
    let costUsd = 0;
    const succeeded: SucceededRequest[] = reconciled.succeeded.map((outcome) => {
      const cost = costOfUsage(this.prices, batch.model, outcome.usage);
      costUsd += cost;
      return {
        request: metadata.get(outcome.customId)!,
        analysis: outcome.analysis,
        model: batch.model,
        pass: batch.pass,
        usage: outcome.usage,
        costUsd: cost,
        ...(outcome.normalised.length > 0 ? { normalised: outcome.normalised } : {}),
      };
    });
    const failed: FailedRequest[] = reconciled.failed.map((outcome) => {
      // Failed lines that generated tokens were paid for too.
      if (outcome.usage) costUsd += costOfUsage(this.prices, batch.model, outcome.usage);
      return {
        request: metadata.get(outcome.customId)!,
        code: outcome.code.slice(0, 100),
        message: outcome.message.slice(0, 4_000),
        httpStatus: outcome.httpStatus,
        failedGeneration: outcome.failedGeneration?.slice(0, 16_000) ?? null,
        model: batch.model,
        pass: batch.pass,
        maxTokens: batch.maxTokens,
        batchId: batch.batchId,
      };
    });
    const anomalies = [
      ...collected.duplicates.map((d) => `custom_id ${d.customId} appeared twice (${d.kept} kept, ${d.other} ignored)`),
      ...collected.malformed.map((m) => `${m.source} file line ${m.lineNumber} unreadable: ${m.reason}`),
      ...reconciled.unexpected.map((id) => `custom_id ${id} is not in batch ${batch.batchId}`),
    ];
    return { succeeded, failed, costUsd, anomalies };
  }
}
