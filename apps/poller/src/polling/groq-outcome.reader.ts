import type { FailedRequest, RequestMetadata, SucceededRequest } from '#contracts';
import {
  billedCostOf,
  billingOfFailure,
  calibrateFailedLines,
  collectOutcomes,
  costOfUsage,
  describeBatchErrors,
  estimateFailedLine,
  type GroqBatchClient,
  GroqBatchError,
  type PriceTable,
  type PromptRegistry,
  reconcileBatch,
  type Usage,
} from '#groq-batch';
import type { BatchOutcomeReader, BatchToCollect, CollectedOutcome, PromptTokenEstimator, ProviderBatchState } from './batch-outcome.port.js';

/** Answered lines whose prompts are re-estimated to calibrate the estimate of failed lines without usage. */
const CALIBRATION_SAMPLE = 50;

/** The poller's provider side on the Groq client: stream both files, validate each line, reconcile every sent id. */
export class GroqOutcomeReader implements BatchOutcomeReader {
  constructor(
    private readonly client: GroqBatchClient,
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
    const reconciled = reconcileBatch(
      sent.map((r) => r.requestId),
      state.status,
      collected.outcomes,
      state.errors,
    );
    const metadata = new Map(sent.map((r) => [r.requestId, r]));
    const succeeded: SucceededRequest[] = reconciled.succeeded.map((outcome) => ({
      request: metadata.get(outcome.customId)!,
      analysis: outcome.analysis,
      model: batch.model,
      pass: batch.pass,
      usage: outcome.usage,
      costUsd: costOfUsage(this.prices, batch.model, outcome.usage),
      ...(outcome.normalised.length > 0 ? { normalised: outcome.normalised } : {}),
    }));
    // Failed lines that generated tokens are billed too: by their usage, or estimated when they report none.
    const failedWithUsage: Usage[] = [];
    const toEstimate: Array<{ customId: string; code: string }> = [];
    const failed: FailedRequest[] = reconciled.failed.map((outcome) => {
      const billing = billingOfFailure(outcome);
      if (billing === 'usage') failedWithUsage.push(outcome.usage!);
      else if (billing === 'estimate') toEstimate.push({ customId: outcome.customId, code: outcome.code });
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
    // The estimates are calibrated on a sample of this batch's answered lines: our prompt estimate against
    // the provider's count, and the completion the answers took.
    const sample = toEstimate.length > 0 ? reconciled.succeeded.slice(0, CALIBRATION_SAMPLE) : [];
    const estimates =
      toEstimate.length > 0
        ? await this.estimator.promptTokens(batch, [...toEstimate.map((line) => line.customId), ...sample.map((outcome) => outcome.customId)])
        : new Map<string, number>();
    const calibration = calibrateFailedLines(
      sample.filter((outcome) => estimates.has(outcome.customId)).map((outcome) => ({ usage: outcome.usage, estimatedPromptTokens: estimates.get(outcome.customId)! })),
      reconciled.succeeded.map((outcome) => outcome.usage),
      batch.maxTokens,
    );
    const unestimated = toEstimate.filter((line) => !estimates.has(line.customId)).map((line) => line.customId);
    const cost = billedCostOf(this.prices, batch.model, {
      answered: reconciled.succeeded.map((outcome) => outcome.usage),
      failedWithUsage,
      estimated: toEstimate.filter((line) => estimates.has(line.customId)).map((line) => estimateFailedLine(line.code, estimates.get(line.customId)!, calibration)),
    });
    const anomalies = [
      ...collected.duplicates.map((d) => `custom_id ${d.customId} appeared twice (${d.kept} kept, ${d.other} ignored)`),
      ...collected.malformed.map((m) => `${m.source} file line ${m.lineNumber} unreadable: ${m.reason}`),
      ...reconciled.unexpected.map((id) => `custom_id ${id} is not in batch ${batch.batchId}`),
      ...(unestimated.length > 0 ? [`no stored request to estimate the billed input of ${unestimated.length} failed line(s), e.g. ${unestimated[0]}`] : []),
    ];
    return { succeeded, failed, cost, anomalies };
  }
}
