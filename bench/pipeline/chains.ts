import { parseArgs } from 'node:util';
import { modelRefOf, providersOf } from '#batching';
import { DEFAULT_PRICE_TABLE, priceOf } from '#groq-batch';
import { billedCostByProvider, runReport } from '#ledger';
import { dropDatabase } from '#platform';
import { ensureKafka, ensurePostgres } from '../../apps/cli/src/demo/local-stack.js';
import { startPipelineStack } from '../../apps/cli/src/demo/pipeline-stack.js';
import { stageCounts } from '../../apps/cli/src/demo/progress.js';
import { parseChain } from '../../apps/cli/src/demo/provider-plan.js';
import { publishPrs } from '../../apps/cli/src/demo/publish-prs.js';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { describeMachine } from './stack.js';

/**
 * `npm run bench:chains [-- --prs 1000 --seed 42 --chains "a,b;c,d" --strongest anthropic:claude-sonnet-4-5]`:
 * the same synthetic PRs through each chain on the demo's stack (its broker, PostgreSQL, the simulator of each
 * provider whose key is unset, the four services from the build), one fresh database per chain; then each
 * chain's last model alone and the overall strongest model alone, so "always the strong model" is a run too,
 * not an estimate. Prints figures only: cost per 1,000 PRs ingested, the share of requests a later pass
 * re-batched, and each chain against always its strongest model and always the overall strongest.
 */
const DEFAULT_CHAINS = [
  // One provider each.
  'groq:openai/gpt-oss-20b,groq:llama-3.3-70b-versatile',
  'openai:gpt-4.1-mini,openai:gpt-4.1',
  'anthropic:claude-haiku-4-5,anthropic:claude-sonnet-4-5',
  // Cross-provider candidates: Groq's cheap model first, a stronger model of another provider after it.
  'groq:openai/gpt-oss-20b,openai:gpt-4.1-mini',
  'groq:openai/gpt-oss-20b,anthropic:claude-haiku-4-5',
  'groq:openai/gpt-oss-20b,openai:gpt-4.1',
  'groq:openai/gpt-oss-20b,anthropic:claude-sonnet-4-5',
  'groq:openai/gpt-oss-20b,openai:gpt-4.1-mini,anthropic:claude-sonnet-4-5',
];

const { values: flags } = parseArgs({
  options: {
    prs: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '42' },
    chains: { type: 'string', default: DEFAULT_CHAINS.join(';') },
    strongest: { type: 'string', default: 'anthropic:claude-sonnet-4-5' },
    'timeout-min': { type: 'string', default: '15' },
  },
});
const positive = (name: string, value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
};
const PRS = positive('prs', flags.prs);
const SEED = positive('seed', flags.seed);
const TIMEOUT_MS = positive('timeout-min', flags['timeout-min']) * 60_000;
const CHAINS = flags.chains
  .split(';')
  .filter((chain) => chain.trim() !== '')
  .map((chain) => parseChain('--chains', chain));
const [STRONGEST] = parseChain('--strongest', flags.strongest);
if (!STRONGEST) throw new Error('--strongest must name one model');

const startedAt = Date.now();
const log = (line: string) => process.stderr.write(`[chains +${((Date.now() - startedAt) / 1000).toFixed(0)}s] ${line}\n`);

interface ChainFigures {
  chain: string[];
  ingested: number;
  processable: number;
  succeeded: number;
  failed: number;
  lost: number;
  /** What the providers bill for the run's finished batches (the run report's total). */
  costUsd: number;
  /** Processable requests re-batched on a later pass. */
  laterPass: number;
  byProvider: Array<{ provider: string; totalUsd: number }>;
  finished: boolean;
  seconds: number;
}

/** One chain on a fresh database and topic prefix; the services and simulators are stopped before it returns. */
async function runChain(chain: string[], databaseUrl: string, index: number): Promise<ChainFigures> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const began = Date.now();
  try {
    const stack = await startPipelineStack(
      {
        database: async () => {
          await dropDatabase(databaseUrl);
          return databaseUrl;
        },
        topicPrefix: `chains-${startedAt}-${index}.`,
        chain,
        seed: SEED,
        log,
        extraEnv: { LOG_LEVEL: 'warn' },
      },
      cleanups,
    );
    await publishPrs(stack, syntheticPrs({ count: PRS, seed: SEED }), 'cascade-bench-chains');
    let finished = false;
    for (let lastLog = 0; Date.now() - began < TIMEOUT_MS; await new Promise((resolve) => setTimeout(resolve, 500))) {
      const counts = await stageCounts(stack.dataSource);
      if (counts.ingested === PRS && counts.merged === PRS) {
        finished = true;
        break;
      }
      if (Date.now() - lastLog > 15_000) {
        log(`  ${counts.merged}/${PRS} terminal, ${counts.retried} re-batched`);
        lastLog = Date.now();
      }
    }
    const strongModel = chain.at(-1)!;
    const report = await runReport(stack.dataSource.manager, {
      strongModel,
      strongPrice: priceOf(DEFAULT_PRICE_TABLE, strongModel),
      defaultStageDeadlineMs: 26 * 3_600_000,
    });
    const [{ later }] = await stack.dataSource.query(`SELECT count(DISTINCT request_id)::int AS later FROM attempts WHERE pass >= 2`);
    const r = report.reconcile;
    return {
      chain,
      ingested: r.ingested,
      processable: r.ingested - r.excluded,
      succeeded: r.succeeded,
      failed: r.failed,
      lost: r.lost.length,
      costUsd: report.cost.totalUsd,
      laterPass: Number(later),
      byProvider: billedCostByProvider(report.cost, (model) => modelRefOf(model).provider),
      finished,
      seconds: (Date.now() - began) / 1000,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
  }
}

const per1k = (figures: ChainFigures) => (figures.costUsd / Math.max(figures.ingested, 1)) * 1000;
const usd = (value: number) => `$${value.toFixed(4)}`;
const pct = (value: number) => `${(value * 100).toFixed(1)} %`;

async function main(): Promise<void> {
  // One broker and one PostgreSQL for every chain: each chain's stack finds them and reuses them.
  const kafka = await ensureKafka(log);
  const postgres = await ensurePostgres(log);
  process.env.KAFKA_BROKERS = kafka.brokers;
  process.env.DATABASE_URL = postgres.url;
  const url = new URL(postgres.url);
  url.pathname = '/cascade_bench_chains';
  const databaseUrl = url.toString();

  // Each chain, then each model an "always" figure needs, alone (a one-model chain: its failures retried on it).
  const alwaysModels = [...new Set([...CHAINS.map((chain) => chain.at(-1)!), STRONGEST])];
  const runs = [...CHAINS, ...alwaysModels.filter((model) => !CHAINS.some((chain) => chain.length === 1 && chain[0] === model)).map((model) => [model])];
  const figures: ChainFigures[] = [];
  try {
    for (const [index, chain] of runs.entries()) {
      log(`run ${index + 1}/${runs.length}: ${chain.join(' → ')}`);
      const result = await runChain(chain, databaseUrl, index);
      log(`  terminal after ${result.seconds.toFixed(0)} s: ${usd(result.costUsd)}, lost ${result.lost}${result.finished ? '' : ', NOT FINISHED'}`);
      figures.push(result);
    }
  } finally {
    await dropDatabase(databaseUrl).catch(() => undefined);
    await postgres.stop();
    await kafka.stop();
  }

  const alone = (model: string) => figures.find((f) => f.chain.length === 1 && f.chain[0] === model)!;
  const out: string[] = [];
  out.push(describeMachine(startedAt));
  out.push(
    `${PRS} synthetic PRs (seed ${SEED}) per chain, every provider on its local simulator unless its key is set; prices: ${DEFAULT_PRICE_TABLE.asOf} table (libs/groq-batch/src/cost.ts), batch prices`,
  );
  out.push(`always X: X alone as a one-model chain on the same PRs (its failures retried on it); overall strongest: ${STRONGEST}`);
  out.push('');
  out.push(
    `| chain | answered / processable | permanent failures | lost | total billed | per 1,000 PRs | needing a later pass | always its strongest, per 1,000 PRs | chain / that | always ${STRONGEST}, per 1,000 PRs | chain / that |`,
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const f of figures.filter((f) => f.chain.length > 1)) {
    const strong = alone(f.chain.at(-1)!);
    const strongest = alone(STRONGEST);
    out.push(
      `| \`${f.chain.join(',')}\` | ${f.succeeded} / ${f.processable} | ${f.failed} | ${f.lost} | ${usd(f.costUsd)} | **${usd(per1k(f))}** | ${pct(f.laterPass / Math.max(f.processable, 1))} | ${f.chain.at(-1)} ${usd(per1k(strong))} | ${pct(per1k(f) / per1k(strong))} | ${usd(per1k(strongest))} | ${pct(per1k(f) / per1k(strongest))} |`,
    );
  }
  out.push('');
  out.push('| always (one-model chain) | answered / processable | permanent failures | lost | per 1,000 PRs | re-tried on it |');
  out.push('|---|---|---|---|---|---|');
  for (const f of figures.filter((f) => f.chain.length === 1)) {
    out.push(`| \`${f.chain[0]}\` | ${f.succeeded} / ${f.processable} | ${f.failed} | ${f.lost} | ${usd(per1k(f))} | ${pct(f.laterPass / Math.max(f.processable, 1))} |`);
  }
  out.push('');
  out.push('billed per provider, per 1,000 PRs:');
  for (const f of figures) {
    out.push(`  ${f.chain.join(',').padEnd(72)} ${f.byProvider.map((p) => `${p.provider} ${usd((p.totalUsd / Math.max(f.ingested, 1)) * 1000)}`).join(' + ')}`);
  }
  const cross = figures.filter((f) => f.chain.length > 1 && providersOf(f.chain).length > 1 && f.lost === 0 && f.finished);
  // A chain that leaves PRs unanalysed is not cheaper for it: the fewest permanent failures first, then the cost.
  const best = cross.sort((a, b) => a.failed - b.failed || per1k(a) - per1k(b))[0];
  out.push('');
  out.push(
    best
      ? `best cross-provider chain (nothing lost, the fewest permanent failures, then the lowest cost per 1,000 PRs): ${best.chain.join(',')} at ${usd(per1k(best))}, ${best.failed} permanent failures`
      : 'no cross-provider chain finished with nothing lost',
  );
  const unfinished = figures.filter((f) => !f.finished || f.lost > 0);
  if (unfinished.length > 0) out.push(`NOT FINISHED OR LOST: ${unfinished.map((f) => f.chain.join(',')).join('; ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  process.exitCode = unfinished.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
});
