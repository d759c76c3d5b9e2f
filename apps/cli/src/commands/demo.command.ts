import { runReport } from '#ledger';
import { dropDatabase } from '#platform';
import { Command, CommandRunner, Option } from 'nest-commander';
import { cliConfig } from '../cli-context.js';
import { startPipelineStack, withCleanups } from '../demo/pipeline-stack.js';
import { parseChain, providerRoutes } from '../demo/provider-plan.js';
import { publishPrs } from '../demo/publish-prs.js';
import { followStages } from '../demo/stage-bars.js';
import { syntheticPrs } from '../demo/synthetic-prs.js';
import { strongModelBasis } from '../pricing.js';
import { positiveInteger } from './options.js';
import { runReportText } from './report-output.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * `npm run demo [-- --chain provider:model,…]`: the whole pipeline on the embedded default — local broker,
 * local PostgreSQL, the local simulator of each provider of the chain whose key is unset — on a synthetic
 * but realistic PR set, with a progress bar per stage and the final report. Stops everything it started.
 */
@Command({ name: 'demo', description: 'Run the whole pipeline locally on a synthetic PR set and print the report' })
export class DemoCommand extends CommandRunner {
  async run(_params: string[], options: { prs?: number; seed?: number; timeoutMs?: number; serve?: boolean; chain?: string[] }): Promise<void> {
    const env = cliConfig();
    const count = options.prs ?? 2_000;
    const seed = options.seed ?? 42;
    const chain = options.chain ?? env.MODEL_CHAIN;
    const realProvider = providerRoutes(chain, env).some((route) => !route.simulated);
    const timeoutMs = options.timeoutMs ?? (realProvider ? 26 * 3_600_000 : 600_000);
    process.exitCode = await withCleanups(async (cleanups) => {
      // Before anything starts: the report prices always-strong at the chain's last model.
      const strongBasis = strongModelBasis({ MODEL_CHAIN: chain, MODEL_PRICES_JSON: env.MODEL_PRICES_JSON });
      const stack = await startPipelineStack(
        {
          // A fresh database and topic prefix per run, so the report is about this run only.
          database: async (localUrl) => {
            const url = new URL(localUrl);
            url.pathname = '/cascade_demo';
            await dropDatabase(url.toString());
            return url.toString();
          },
          topicPrefix: `demo-${Date.now()}.`,
          chain,
          seed,
          log,
        },
        cleanups,
      );
      const poller = stack.services.find((service) => service.name === 'poller');
      const dashboard = poller ? `http://127.0.0.1:${poller.port}/dashboard` : null;
      if (dashboard) log(`live dashboard: ${dashboard} (ops API and OpenAPI at http://127.0.0.1:${poller!.port}/docs)`);
      log(`publishing ${count} synthetic PRs, analysed on ${chain.join(' → ')}…`);
      await publishPrs(stack, syntheticPrs({ count, seed }), 'cascade-demo');
      const done = await followStages(stack.dataSource, count, timeoutMs, (c) => c.ingested === count && c.merged === count);
      const report = await runReport(stack.dataSource.manager, { ...strongBasis, defaultStageDeadlineMs: 26 * 3_600_000 });
      process.stdout.write(`\n${runReportText(report)}\n`);
      if (!done) log(`not every request finished within ${timeoutMs} ms: see \`cascade reconcile\``);
      if (options.serve && dashboard) {
        log(`the services keep running: ${dashboard} — Ctrl-C stops everything`);
        await new Promise<void>((stop) => {
          process.once('SIGINT', () => stop());
          process.once('SIGTERM', () => stop());
        });
      }
      return done && report.reconcile.lost.length === 0 && report.reconcile.invariantHolds ? 0 : 1;
    }, log);
  }

  @Option({
    flags: '--chain <models>',
    description: 'the models each PR goes through, cheapest first, as provider:model (groq, openai, anthropic), comma-separated (default MODEL_CHAIN)',
  })
  parseChain(value: string): string[] {
    return parseChain('--chain', value);
  }

  @Option({ flags: '--prs <count>', description: 'how many synthetic PRs (default 2000)' })
  parsePrs(value: string): number {
    return positiveInteger('--prs', value);
  }

  @Option({ flags: '--seed <seed>', description: 'seed of the PR set and the simulator (default 42)' })
  parseSeed(value: string): number {
    return positiveInteger('--seed', value);
  }

  @Option({ flags: '--serve', description: 'keep the services and the dashboard running after the report, until Ctrl-C' })
  parseServe(): boolean {
    return true;
  }

  @Option({ flags: '--timeout-ms <ms>', description: 'give up waiting after this long' })
  parseTimeout(value: string): number {
    return positiveInteger('--timeout-ms', value);
  }
}
