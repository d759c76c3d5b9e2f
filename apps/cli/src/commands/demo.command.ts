import { join } from 'node:path';
import { createEvent, Topic } from '#contracts';
import { formatRunReport, runReport } from '#ledger';
import { createKafka, dropDatabase, EventPublisher, openDatabase } from '#platform';
import { MultiBar, Presets } from 'cli-progress';
import { Command, CommandRunner, Option } from 'nest-commander';
import type { DataSource } from 'typeorm';
import { type GroqSimulator, startGroqSimulator } from '../../../../tools/groq-simulator/src/simulator.js';
import { ensureKafka, ensurePostgres, freePort, REPO_ROOT, type ServiceProcess, spawnService, stopService, waitReady } from '../demo/local-stack.js';
import { stageCounts } from '../demo/progress.js';
import { syntheticPrs } from '../demo/synthetic-prs.js';
import { STRONG_MODEL, strongModelPrice } from '../pricing.js';

const SERVICES = ['result-writer', 'retry-service', 'poller', 'batch-submitter'] as const;

interface DemoOptions {
  prs: number;
  seed: number;
  timeoutMs: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * `npm run demo`: the whole pipeline on the embedded default — local broker, local PostgreSQL,
 * the Groq simulator when GROQ_API_KEY is unset — on a synthetic but realistic PR set, with a
 * progress bar per stage and the final report. Stops everything it started.
 */
@Command({ name: 'demo', description: 'Run the whole pipeline locally on a synthetic PR set and print the report' })
export class DemoCommand extends CommandRunner {
  async run(_params: string[], options: Partial<DemoOptions>): Promise<void> {
    const settings: DemoOptions = { prs: 2_000, seed: 42, timeoutMs: process.env.GROQ_API_KEY ? 26 * 3_600_000 : 600_000, ...options };
    const cleanups: Array<() => Promise<unknown>> = [];
    let exitCode = 1;
    try {
      exitCode = await this.demo(settings, cleanups);
    } catch (error) {
      log(`demo failed: ${(error as Error).message}`);
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
    }
    process.exitCode = exitCode;
  }

  private async demo(settings: DemoOptions, cleanups: Array<() => Promise<unknown>>): Promise<number> {
    const kafka = await ensureKafka(log);
    cleanups.push(() => kafka.stop());
    const postgres = await ensurePostgres(log);
    cleanups.push(() => postgres.stop());

    // A fresh database and topic prefix per run, so the report is about this run only.
    const databaseUrl = new URL(postgres.url);
    databaseUrl.pathname = '/cascade_demo';
    await dropDatabase(databaseUrl.toString());
    const dataSource: DataSource = await openDatabase(databaseUrl.toString(), 2);
    cleanups.push(() => dataSource.destroy());
    const prefix = `demo-${Date.now()}.`;

    let simulator: GroqSimulator | null = null;
    if (!process.env.GROQ_API_KEY) {
      simulator = await startGroqSimulator({ seed: settings.seed, stageDelayMs: 200 });
      cleanups.push(() => simulator!.stop());
      log(`GROQ_API_KEY is not set: using the local Groq simulator at ${simulator.url}`);
    } else log('GROQ_API_KEY is set: using the Groq Batch API');

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_TOPIC_PREFIX: prefix,
      DATABASE_URL: databaseUrl.toString(),
      GROQ_API_KEY: process.env.GROQ_API_KEY ?? 'simulator-local-key',
      GROQ_BASE_URL: simulator?.url ?? process.env.GROQ_BASE_URL ?? 'https://api.groq.com',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      ...(simulator
        ? { BATCH_LINGER_MS: '1000', POLL_FIRST_DELAY_MS: '300', POLL_MAX_DELAY_MS: '2000', POLL_TICK_MS: '250', OUTBOX_POLL_MS: '100' }
        : {}),
    };
    const logDir = join(REPO_ROOT, '.cascade/demo/logs');
    const services: ServiceProcess[] = [];
    cleanups.push(async () => {
      for (const service of services) await stopService(service);
    });
    for (const name of SERVICES) services.push(spawnService(name, env, await freePort(), logDir));
    await Promise.all(services.map((service) => waitReady(service, 120_000)));
    log(`four services ready (logs in .cascade/demo/logs); publishing ${settings.prs} PRs…`);

    const publisher = new EventPublisher(createKafka('cascade-demo', kafka.brokers.split(',')), prefix);
    await publisher.connect();
    const prs = syntheticPrs({ count: settings.prs, seed: settings.seed });
    for (let i = 0; i < prs.length; i += 500) {
      await publisher.send(
        prs.slice(i, i + 500).map((pr) => publisher.encode(Topic.PrIngested, createEvent(Topic.PrIngested, pr, { correlationId: `demo-${pr.requestId}`, producer: 'cascade-demo' }))),
      );
    }
    await publisher.disconnect();

    const bars = new MultiBar(
      { format: ' {stage} |{bar}| {value}/{total}', hideCursor: true, clearOnComplete: false, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 3_000 },
      Presets.shades_classic,
    );
    const bar = (stage: string) => bars.create(settings.prs, 0, { stage: stage.padEnd(11) });
    const ingested = bar('ingested');
    const submitted = bar('submitted');
    const passOne = bar('pass 1 done');
    const retried = bar('retried');
    const merged = bar('merged');
    const deadline = Date.now() + settings.timeoutMs;
    let done = false;
    while (Date.now() < deadline) {
      const counts = await stageCounts(dataSource);
      ingested.update(counts.ingested);
      // Excluded PRs are never sent: the submission bars count the processable ones.
      submitted.setTotal(Math.max(counts.ingested - counts.excluded, 1));
      passOne.setTotal(Math.max(counts.ingested - counts.excluded, 1));
      submitted.update(counts.submitted);
      passOne.update(counts.passOneDone);
      retried.setTotal(Math.max(counts.passOneFailed, 1));
      retried.update(counts.retried);
      merged.update(counts.merged);
      if (counts.ingested === settings.prs && counts.merged === settings.prs) {
        done = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    bars.stop();

    const report = await runReport(dataSource.manager, {
      strongModel: STRONG_MODEL,
      strongPrice: strongModelPrice(),
      defaultStageDeadlineMs: 26 * 3_600_000,
    });
    process.stdout.write(`\n${formatRunReport(report)}\n`);
    if (!done) log(`not every request finished within ${settings.timeoutMs} ms: see \`cascade reconcile\``);
    return done && report.reconcile.lost.length === 0 && report.reconcile.invariantHolds ? 0 : 1;
  }

  @Option({ flags: '--prs <count>', description: 'how many synthetic PRs (default 2000)' })
  parsePrs(value: string): number {
    return positive('--prs', value);
  }

  @Option({ flags: '--seed <seed>', description: 'seed of the PR set and the simulator (default 42)' })
  parseSeed(value: string): number {
    return positive('--seed', value);
  }

  @Option({ flags: '--timeout-ms <ms>', description: 'give up waiting after this long' })
  parseTimeout(value: string): number {
    return positive('--timeout-ms', value);
  }
}

function positive(flag: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new Error(`${flag} must be a positive integer, got "${value}"`);
  return number;
}
