import { parseArgs } from 'node:util';
import { DEFAULT_PRICE_TABLE, buildPrAnalysisRequest, priceOf } from '#groq-batch';
import { featureVector, historyFromStored, type Pass1Attempt, Router, type RoutingPreference, trainVersion } from '#routing';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { guardPr } from '../../apps/batch-submitter/src/ingestion/prompt-guard.js';
import { promptTokensOf } from '../../libs/routing/src/router.repository.js';
import type { FailureModel } from '../../tools/groq-simulator/src/failure-model.js';
import { answerChatRequest, lineDigest } from '../../tools/groq-simulator/src/line-answer.js';
import { CHEAP_MODEL_PROFILE, type ModelProfile, STRONG_MODEL_PROFILE } from '../../tools/groq-simulator/src/options.js';

/**
 * `npm run bench:routing [-- --prs 20000 --seed 7]`: a simulated history of N PRs (the demo's PRs with rich
 * bodies) answered on the cheap model by the simulator's own line decisions, a router trained on it, then N
 * more PRs answered cheap-first (today) and with routing. It runs the simulator's model, not the services:
 * each request's answers are exactly those the simulator would give its batch lines, and a batch cycle is
 * counted, not waited for. Once with `failureModel: 'features'`, once with `'random'` (where nothing can be
 * learnt and the router must route nothing). Figures only.
 */
const { values: flags } = parseArgs({ options: { prs: { type: 'string', default: '20000' }, seed: { type: 'string', default: '7' } } });
const COUNT = Number(flags.prs);
const SEED = Number(flags.seed);
const CHEAP = 'openai/gpt-oss-20b';
const STRONG = 'llama-3.3-70b-versatile';
const MAX_TOKENS = 1_024;
const prices = { cheapModel: CHEAP, strongModel: STRONG, cheap: priceOf(DEFAULT_PRICE_TABLE, CHEAP), strong: priceOf(DEFAULT_PRICE_TABLE, STRONG) };
const CONTENT_FAILURES = new Set(['json_validate_failed', 'max_tokens_exceeded', 'finish_reason_length', 'schema_violation']);

interface Answer {
  failed: boolean;
  usd: number;
}

function answer(pr: ReturnType<typeof guardPr> & { repo: string }, requestId: string, model: string, profile: ModelProfile): Answer {
  const body = buildPrAnalysisRequest(pr, { model, maxTokens: MAX_TOKENS }) as unknown as Record<string, unknown>;
  const line = answerChatRequest(requestId, body, { seed: SEED, model, profile, attempt: 1, outputTooLongAs: 'error', nowSeconds: 1_765_000_000, digest: lineDigest(JSON.stringify({ custom_id: requestId, body })) });
  const price = priceOf(DEFAULT_PRICE_TABLE, model);
  const billed = line.billed ?? { promptTokens: 0, completionTokens: 0 };
  return { failed: CONTENT_FAILURES.has(line.outcome), usd: (billed.promptTokens * price.inputPerMillion + billed.completionTokens * price.outputPerMillion) / 1e6 };
}

function requestsOf(seed: number, firstNumber: number) {
  return syntheticPrs({ count: COUNT, seed, richBodies: true })
    .filter((pr) => pr.body.trim() !== '')
    .map((pr) => {
      const requestId = `${pr.repo}#${pr.prNumber + firstNumber}`;
      const guarded = { ...guardPr(pr, { maxBodyChars: 20_000, maxReviewChars: 2_000, maxReviews: 20 }), repo: pr.repo };
      const known = { ...guarded, promptVersion: 'pr-analysis-v1' };
      return { requestId, guarded, createdAt: new Date(pr.createdAt), input: { ...known, promptTokens: promptTokensOf(known, CHEAP) } };
    });
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function run(failureModel: FailureModel, preference: RoutingPreference): void {
  const cheapProfile: ModelProfile = { ...CHEAP_MODEL_PROFILE, failureModel };
  const history: Pass1Attempt[] = requestsOf(SEED, 0).map((r, i) => ({
    requestId: r.requestId,
    // The history arrives in order, one request a minute.
    sentAt: new Date(Date.UTC(2025, 6, 1) + i * 60_000),
    failed: answer(r.guarded, r.requestId, CHEAP, cheapProfile).failed,
    input: r.input,
  }));
  const started = Date.now();
  const version = trainVersion(history, { prices, preference });
  const trainMs = Date.now() - started;
  const router = new Router(version.trained);
  const known = historyFromStored(version.history);
  const heldOut = requestsOf(SEED + 1, 1_000_000);
  const scores = router.scores(heldOut.map((r) => featureVector(r.input, known)));
  let laterToday = 0;
  let laterRouted = 0;
  let usdToday = 0;
  let usdRouted = 0;
  const cyclesTodayOfRouted: number[] = [];
  const cyclesRouted: number[] = [];
  heldOut.forEach((r, i) => {
    const cheap = answer(r.guarded, r.requestId, CHEAP, cheapProfile);
    const strong = answer(r.guarded, r.requestId, STRONG, STRONG_MODEL_PROFILE);
    const today = { usd: cheap.usd + (cheap.failed ? strong.usd : 0), later: cheap.failed, cycles: cheap.failed ? 2 : 1 };
    usdToday += today.usd;
    if (today.later) laterToday++;
    if (scores[i]! > version.threshold) {
      usdRouted += strong.usd;
      if (strong.failed) laterRouted++;
      cyclesRouted.push(strong.failed ? 2 : 1);
      cyclesTodayOfRouted.push(today.cycles);
    } else {
      usdRouted += today.usd;
      if (today.later) laterRouted++;
    }
  });
  const m = version.metrics;
  const lines = [
    `failureModel ${failureModel}, favour ${preference}: ${history.length} history requests (trained on ${version.trainingRows} in ${trainMs} ms), ${heldOut.length} held-out requests`,
    `  router hold-out: precision ${(m.precision * 100).toFixed(1)} %, recall ${(m.recall * 100).toFixed(1)} %, threshold p(fail) > ${version.threshold.toFixed(3)}`,
    `  routed on the held-out run: ${cyclesRouted.length} of ${heldOut.length}`,
    `  requests needing a later pass: cheap-first ${laterToday}, routed ${laterRouted}${laterToday > 0 ? ` (${(((laterToday - laterRouted) / laterToday) * 100).toFixed(1)} % fewer)` : ''}`,
    `  total cost (billed failures included): cheap-first $${usdToday.toFixed(4)}, routed $${usdRouted.toFixed(4)} (${(((usdRouted - usdToday) / usdToday) * 100).toFixed(2)} %)`,
    `  median batch cycles to a terminal record of the routed requests: cheap-first ${median(cyclesTodayOfRouted)}, routed ${median(cyclesRouted)}` +
      (cyclesRouted.length > 0 ? ` (mean ${(cyclesTodayOfRouted.reduce((a, b) => a + b, 0) / cyclesRouted.length).toFixed(2)} → ${(cyclesRouted.reduce((a, b) => a + b, 0) / cyclesRouted.length).toFixed(2)})` : ''),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

for (const failureModel of ['features', 'random'] as const) {
  for (const preference of ['cost', 'latency'] as const) run(failureModel, preference);
}
