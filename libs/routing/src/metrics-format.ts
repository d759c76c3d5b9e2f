import type { RoutingMetrics } from './training.js';

function percent(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

function usd(amount: number): string {
  return `$${amount.toFixed(amount !== 0 && Math.abs(amount) < 0.01 ? 6 : 4)}`;
}

/** The hold-out figures of a router version, as `cascade routing train` and `evaluate` print them. */
export function formatRoutingMetrics(metrics: RoutingMetrics, threshold: number): string {
  const cost = metrics.savedUsd >= 0 ? `saved ${usd(metrics.savedUsd)}` : `lost ${usd(-metrics.savedUsd)}`;
  return [
    `hold-out: ${metrics.requests} pass-1 requests (${metrics.failures} failed on the cheap model), trained on ${metrics.trainingRows}`,
    `threshold p(fail) > ${threshold.toFixed(4)}: routed ${metrics.routed}`,
    `precision ${percent(metrics.precision)}, recall ${percent(metrics.recall)}`,
    `requests saved from pass 2: ${metrics.savedFromPass2} of ${metrics.cheapFirstLaterPasses}`,
    `cost: cheap-first ${usd(metrics.cheapFirstUsd)}, routed ${usd(metrics.routedUsd)} (${cost})`,
    `batch cycles saved: ${metrics.cyclesSaved} (none lost: a routed request takes one cycle either way)`,
  ].join('\n');
}
