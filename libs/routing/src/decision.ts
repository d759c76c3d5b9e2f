import { type ModelPrice } from '#groq-batch';

/** What one attempt of a request is expected to read and write, for pricing it before it is sent. */
export interface AttemptTokens {
  inputTokens: number;
  outputTokens: number;
}

/** Output tokens assumed for an answer when the history holds none (a PR analysis is about this long). */
export const DEFAULT_OUTPUT_TOKENS = 350;

export function attemptCostUsd(price: ModelPrice, tokens: AttemptTokens): number {
  return (tokens.inputTokens * price.inputPerMillion + tokens.outputTokens * price.outputPerMillion) / 1_000_000;
}

/** `cost`: route only where it is expected to pay; `latency`: also where it costs up to half the break-even gap more. */
export type RoutingPreference = 'cost' | 'latency';

/**
 * The p(fail) above which a request starts on the stronger model, by the rule of issue 16: route when
 * `p × (cheap + strong) > strong − cheap`, i.e. `p > (strong − cheap) / (cheap + strong)`, each the price
 * of one attempt of this request on the chain's first and next model. (The exact break-even of "cheap
 * first, then strong on failure" against "strong first" is `p > (strong − cheap) / strong`; the rule used
 * routes a little earlier, counting the failed cheap attempt's whole price against cheap-first.)
 * `latency` halves the threshold: each routed failure saves a whole batch cycle, worth some dollars.
 */
export function routingThreshold(cheap: ModelPrice, strong: ModelPrice, tokens: AttemptTokens, preference: RoutingPreference = 'cost'): number {
  const cheapUsd = attemptCostUsd(cheap, tokens);
  const strongUsd = attemptCostUsd(strong, tokens);
  if (strongUsd <= cheapUsd) return 0;
  const breakEven = (strongUsd - cheapUsd) / (cheapUsd + strongUsd);
  return preference === 'latency' ? breakEven / 2 : breakEven;
}

/** One held-out request: its score, whether pass 1 failed, and its attempts' prices. */
export interface HeldOutRequest {
  score: number;
  failed: boolean;
  cheapUsd: number;
  strongUsd: number;
}

export interface RoutingEvaluation {
  requests: number;
  failures: number;
  routed: number;
  /** Routed requests that did fail on pass 1 / all routed. */
  precision: number;
  /** Failures routed / all failures. */
  recall: number;
  /** Requests that no longer need pass 2 (routed failures). */
  savedFromPass2: number;
  cheapFirstUsd: number;
  routedUsd: number;
  /** cheapFirstUsd − routedUsd: positive is a saving. */
  savedUsd: number;
  /** Batch cycles saved: one per routed failure (a routed success takes one cycle either way). */
  cyclesSaved: number;
}

/**
 * Today's cheap-first against routing at `threshold`, on requests whose pass-1 outcome is known. Cheap
 * first: every request pays its cheap attempt, a failure its strong attempt too. Routed: a request above
 * the threshold pays its strong attempt only (assumed to succeed, as pass 2 does today).
 */
export function evaluateRouting(requests: readonly HeldOutRequest[], threshold: number): RoutingEvaluation {
  let failures = 0;
  let routed = 0;
  let truePositives = 0;
  let cheapFirstUsd = 0;
  let routedUsd = 0;
  for (const request of requests) {
    const cheapFirst = request.cheapUsd + (request.failed ? request.strongUsd : 0);
    const route = request.score > threshold;
    cheapFirstUsd += cheapFirst;
    routedUsd += route ? request.strongUsd : cheapFirst;
    if (request.failed) failures++;
    if (route) routed++;
    if (route && request.failed) truePositives++;
  }
  return {
    requests: requests.length,
    failures,
    routed,
    precision: routed === 0 ? 0 : truePositives / routed,
    recall: failures === 0 ? 0 : truePositives / failures,
    savedFromPass2: truePositives,
    cheapFirstUsd,
    routedUsd,
    savedUsd: cheapFirstUsd - routedUsd,
    cyclesSaved: truePositives,
  };
}
