import type { FailedRequest, RequestMetadata, SucceededRequest } from '#contracts';
import {
  billedCostOf,
  billingOfFailure,
  calibrateFailedLines,
  type CollectedOutcomes,
  costOfUsage,
  estimateFailedLine,
  type PriceTable,
  reconcileBatch,
  type Usage,
} from '#groq-batch';
import type { BatchToCollect, CollectedOutcome, PromptTokenEstimator, ProviderBatchState } from './batch-outcome.port.js';

/** Answered lines whose prompts are re-estimated to calibrate the estimate of failed lines without usage. */
const CALIBRATION_SAMPLE = 50;

/**
 * A finished batch's outcome from the lines read back, whatever the provider: every sent id reconciled
 * (succeeded, failed, or missing and so retryable), what it is billed, and what looked wrong.
 */
export async function batchOutcomeOf(
  collected: CollectedOutcomes,
  state: ProviderBatchState,
  batch: BatchToCollect,
  sent: RequestMetadata[],
  prices: PriceTable,
  estimator: PromptTokenEstimator,
): Promise<CollectedOutcome> {
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
    costUsd: costOfUsage(prices, batch.model, outcome.usage),
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
      ? await estimator.promptTokens(batch, [...toEstimate.map((line) => line.customId), ...sample.map((outcome) => outcome.customId)])
      : new Map<string, number>();
  const calibration = calibrateFailedLines(
    sample.filter((outcome) => estimates.has(outcome.customId)).map((outcome) => ({ usage: outcome.usage, estimatedPromptTokens: estimates.get(outcome.customId)! })),
    reconciled.succeeded.map((outcome) => outcome.usage),
    batch.maxTokens,
  );
  const unestimated = toEstimate.filter((line) => !estimates.has(line.customId)).map((line) => line.customId);
  const cost = billedCostOf(prices, batch.model, {
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
