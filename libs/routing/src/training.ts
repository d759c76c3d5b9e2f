import type { ModelPrice } from '#groq-batch';
import { type LabelledRequest, Router, type TrainedRouter, trainRouter } from './classifier.js';
import { attemptCostUsd, DEFAULT_OUTPUT_TOKENS, evaluateRouting, type RoutingEvaluation, type RoutingPreference, routingThreshold } from './decision.js';
import { type FailureHistory, featureVector, type RoutingInput } from './features.js';

/** One pass-1 attempt on the chain's first model, with what was known of its request before sending. */
export interface Pass1Attempt {
  requestId: string;
  /** When it was sent (its batch's submission): the time order of the hold-out. */
  sentAt: Date;
  /** Failed in a way a stronger model fixes (invalid output, output too long). */
  failed: boolean;
  input: RoutingInput;
}

/** Counts per repository and author, in a form that survives JSON (the `history` column). */
export interface StoredHistory {
  repos: Array<[string, { attempts: number; failures: number }]>;
  authors: Array<[string, { attempts: number; failures: number }]>;
  overallRate: number;
}

export function storedHistory(history: FailureHistory): StoredHistory {
  return { repos: [...history.repos], authors: [...history.authors], overallRate: history.overallRate };
}

export function historyFromStored(stored: StoredHistory): FailureHistory {
  return { repos: new Map(stored.repos), authors: new Map(stored.authors), overallRate: stored.overallRate };
}

/**
 * Each attempt's features with the repository and author failure rates known just before it (earlier
 * attempts only: an attempt never sees its own outcome), in time order; and the history after the last one.
 */
export function sequenceFeatures(attempts: readonly Pass1Attempt[]): { rows: Array<LabelledRequest & { attempt: Pass1Attempt }>; history: FailureHistory } {
  const sorted = [...attempts].sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime());
  const repos = new Map<string, { attempts: number; failures: number }>();
  const authors = new Map<string, { attempts: number; failures: number }>();
  let failures = 0;
  const rows = sorted.map((attempt, index) => {
    const history: FailureHistory = { repos, authors, overallRate: index === 0 ? 0 : failures / index };
    const features = featureVector(attempt.input, history);
    for (const [map, key] of [
      [repos, attempt.input.repo],
      [authors, attempt.input.author],
    ] as const) {
      const counts = map.get(key) ?? { attempts: 0, failures: 0 };
      map.set(key, { attempts: counts.attempts + 1, failures: counts.failures + (attempt.failed ? 1 : 0) });
    }
    if (attempt.failed) failures++;
    return { features, failed: attempt.failed, attempt };
  });
  return { rows, history: { repos, authors, overallRate: sorted.length === 0 ? 0 : failures / sorted.length } };
}

export interface ChainPrices {
  cheapModel: string;
  strongModel: string;
  cheap: ModelPrice;
  strong: ModelPrice;
}

export interface TrainingRequest {
  prices: ChainPrices;
  /** The newest share of attempts, by time, kept out of training to evaluate on (default 0.2). */
  holdoutShare?: number;
  preference?: RoutingPreference;
  steps?: number;
  outputTokens?: number;
}

export interface RoutingMetrics extends RoutingEvaluation {
  trainingRows: number;
  /** The batch cycles a later pass costs today on the hold-out (one per failure). */
  cheapFirstLaterPasses: number;
}

export interface TrainedVersion {
  trained: TrainedRouter;
  history: StoredHistory;
  threshold: number;
  preference: RoutingPreference;
  trainingRows: number;
  holdoutFrom: Date | null;
  metrics: RoutingMetrics;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export class NotEnoughHistoryError extends Error {}

/**
 * Trains on the older attempts and evaluates on the newest `holdoutShare` (a time-based hold-out: the
 * router is judged on requests that came after everything it learned from). The threshold is priced for
 * the median request; the history stored with the version counts every attempt, hold-out included.
 */
export function trainVersion(attempts: readonly Pass1Attempt[], request: TrainingRequest): TrainedVersion {
  const holdoutShare = request.holdoutShare ?? 0.2;
  const { rows, history } = sequenceFeatures(attempts);
  // Attempts sent together (one batch) share a time: the cut falls between two times, never inside one.
  const from = rows[Math.floor(rows.length * (1 - holdoutShare))]?.attempt.sentAt.getTime() ?? Number.POSITIVE_INFINITY;
  const training = rows.filter((row) => row.attempt.sentAt.getTime() < from);
  const holdout = rows.filter((row) => row.attempt.sentAt.getTime() >= from);
  if (training.length < 50) throw new NotEnoughHistoryError(`${training.length} pass-1 attempts to train on (at least 50 needed, from ${rows.length} with a ${holdoutShare} hold-out)`);
  if (!training.some((row) => row.failed)) throw new NotEnoughHistoryError(`no failed pass-1 attempt among the ${training.length} to train on: nothing to learn`);
  const preference = request.preference ?? 'cost';
  const outputTokens = request.outputTokens ?? DEFAULT_OUTPUT_TOKENS;
  const trained = trainRouter(training, { steps: request.steps });
  const threshold = routingThreshold(request.prices.cheap, request.prices.strong, { inputTokens: median(training.map((row) => row.attempt.input.promptTokens)), outputTokens }, preference);
  const metrics = evaluateOn(new Router(trained), holdout, threshold, request.prices, outputTokens);
  return {
    trained,
    history: storedHistory(history),
    threshold,
    preference,
    trainingRows: training.length,
    holdoutFrom: holdout[0]?.attempt.sentAt ?? null,
    metrics: { ...metrics, trainingRows: training.length },
  };
}

/** The version's figures on attempts recorded since `holdoutFrom` (their features from the attempts before them). */
export function evaluateVersion(
  version: { trained: TrainedRouter; threshold: number; holdoutFrom: Date | null; trainingRows: number },
  attempts: readonly Pass1Attempt[],
  prices: ChainPrices,
  outputTokens = DEFAULT_OUTPUT_TOKENS,
): RoutingMetrics {
  const { rows } = sequenceFeatures(attempts);
  const from = version.holdoutFrom?.getTime() ?? Number.POSITIVE_INFINITY;
  const holdout = rows.filter((row) => row.attempt.sentAt.getTime() >= from);
  return { ...evaluateOn(new Router(version.trained), holdout, version.threshold, prices, outputTokens), trainingRows: version.trainingRows };
}

function evaluateOn(
  router: Router,
  holdout: ReadonlyArray<LabelledRequest & { attempt: Pass1Attempt }>,
  threshold: number,
  prices: ChainPrices,
  outputTokens: number,
): Omit<RoutingMetrics, 'trainingRows'> {
  const scores = router.scores(holdout.map((row) => row.features));
  const evaluation = evaluateRouting(
    holdout.map((row, i) => {
      const tokens = { inputTokens: row.attempt.input.promptTokens, outputTokens };
      return { score: scores[i]!, failed: row.failed, cheapUsd: attemptCostUsd(prices.cheap, tokens), strongUsd: attemptCostUsd(prices.strong, tokens) };
    }),
    threshold,
  );
  return { ...evaluation, cheapFirstLaterPasses: evaluation.failures };
}
