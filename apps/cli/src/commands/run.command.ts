import { Topic } from '#contracts';
import { runReport } from '#ledger';
import { consumerGroupOf, createKafka, topicName } from '#platform';
import { Command, CommandRunner, Option } from 'nest-commander';
import { cliConfig } from '../cli-context.js';
import { startPipelineStack, withCleanups } from '../demo/pipeline-stack.js';
import { providerRoutes } from '../demo/provider-plan.js';
import { followStages } from '../demo/stage-bars.js';
import { strongModelBasis } from '../pricing.js';
import { positiveInteger } from './options.js';
import { runReportText } from './report-output.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

interface RunOptions {
  limit?: number;
  withFallback?: boolean;
  poll?: boolean;
  timeoutMs?: number;
}

/**
 * The operators' one-shot workflow on the local stack: analyse up to N pending PRs (those already
 * published to pr.ingested.v1 and not yet analysed), with or without the fallback pass, and with
 * `--poll` wait for every request to be terminal and print the report. State lives in the database,
 * so a later `run --poll` picks up batches an earlier `run` submitted.
 */
@Command({ name: 'run', description: 'Analyse up to N pending PRs on the local stack (--limit N --with-fallback --poll)' })
export class RunCommand extends CommandRunner {
  async run(_params: string[], options: RunOptions): Promise<void> {
    const env = cliConfig();
    const chain = env.MODEL_CHAIN;
    const used = options.withFallback ? chain : chain.slice(0, 1);
    const routes = providerRoutes(used, env);
    const simulated = routes.filter((route) => route.simulated);
    if (simulated.length > 0 && !options.poll) {
      const keys = simulated.map((route) => route.keyVariable).join(', ');
      log(`without ${keys} the local simulator${simulated.length > 1 ? 's live' : ' lives'} only as long as this command: add --poll`);
      process.exitCode = 2;
      return;
    }
    const timeoutMs = options.timeoutMs ?? (routes.some((route) => !route.simulated) ? 26 * 3_600_000 : 600_000);
    const startedAt = new Date();
    process.exitCode = await withCleanups(async (cleanups) => {
      const stack = await startPipelineStack(
        {
          // The stack's PostgreSQL is DATABASE_URL when set (else the local or embedded one): use it as is.
          database: async (stackUrl) => stackUrl,
          topicPrefix: env.KAFKA_TOPIC_PREFIX,
          chain: used,
          seed: 42,
          log,
          extraEnv: options.limit ? { SUBMIT_LIMIT: String(options.limit) } : {},
        },
        cleanups,
      );
      log(
        `analysing ${options.limit ? `up to ${options.limit}` : 'every'} pending PR${options.withFallback ? `, failures re-batched on ${chain.slice(1).join(' → ')}` : ` on ${chain[0]} only`}`,
      );
      await this.waitForSubmissions(stack.env, stack.dataSource, startedAt, options.limit, timeoutMs);
      if (!options.poll) {
        const batches: Array<{ batch_id: string; provider_batch_id: string; request_count: number }> = await stack.dataSource.query(
          `SELECT batch_id, provider_batch_id, request_count FROM batches WHERE created_at >= $1 ORDER BY created_at`,
          [startedAt],
        );
        for (const b of batches) process.stdout.write(`submitted ${b.batch_id} (provider ${b.provider_batch_id}): ${b.request_count} requests\n`);
        process.stdout.write('collect the results with `cascade run --poll` (or let the services run)\n');
        return 0;
      }
      const done = await followStages(stack.dataSource, 0, timeoutMs, (c) => c.underWay === 0);
      const report = await runReport(stack.dataSource.manager, { ...strongModelBasis(env), defaultStageDeadlineMs: 26 * 3_600_000 });
      process.stdout.write(`\n${runReportText(report)}\n`);
      return done && report.reconcile.lost.length === 0 ? 0 : 1;
    }, log);
  }

  /** Until the submitter has read every published PR and submitted what it may (the limit, or all pending). */
  private async waitForSubmissions(env: NodeJS.ProcessEnv, dataSource: import('typeorm').DataSource, since: Date, limit: number | undefined, timeoutMs: number) {
    const admin = createKafka('cascade-run', String(env.KAFKA_BROKERS).split(',')).admin();
    await admin.connect();
    const topic = topicName(Topic.PrIngested, String(env.KAFKA_TOPIC_PREFIX ?? ''));
    const groupId = consumerGroupOf('batch-submitter', String(env.KAFKA_TOPIC_PREFIX ?? ''));
    const deadline = Date.now() + timeoutMs;
    try {
      while (Date.now() < deadline) {
        const [end, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
        const lag = end.reduce((sum, p) => {
          const done = committed[0]?.partitions.find((c) => c.partition === p.partition)?.offset ?? '-1';
          return sum + Math.max(0, Number(p.high) - Math.max(0, Number(done)));
        }, 0);
        const [state] = await dataSource.query(
          `SELECT (SELECT count(*) FROM requests WHERE status = 'pending' AND pass = 1)::int AS pending,
                  (SELECT count(*) FROM batches WHERE state = 'creating')::int AS creating,
                  (SELECT coalesce(sum(request_count), 0) FROM batches WHERE pass = 1 AND created_at >= $1)::int AS submitted`,
          [since],
        );
        const reachedLimit = limit !== undefined && state.submitted >= limit;
        if (lag === 0 && state.creating === 0 && (state.pending === 0 || reachedLimit)) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      throw new Error(`submissions did not finish within ${timeoutMs} ms`);
    } finally {
      await admin.disconnect();
    }
  }

  @Option({ flags: '--limit <n>', description: 'process at most N pending PRs' })
  parseLimit(value: string): number {
    return positiveInteger('--limit', value);
  }

  @Option({ flags: '--with-fallback', description: 're-batch failures on the next model of MODEL_CHAIN (two-pass)' })
  parseWithFallback(): boolean {
    return true;
  }

  @Option({ flags: '--poll', description: 'wait until every request is terminal, then print the report' })
  parsePoll(): boolean {
    return true;
  }

  @Option({ flags: '--timeout-ms <ms>', description: 'give up waiting after this long' })
  parseTimeout(value: string): number {
    return positiveInteger('--timeout-ms', value);
  }
}
