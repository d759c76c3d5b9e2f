import { batchProvidersFrom, databaseRecords, promptRegistryFrom, submissionEnv, type SweepReport, sweepProvider } from '#batching';
import { formatReconcile, reconcile, reconcileFailed, type ReconcileReport } from '#ledger';
import { parseEnv } from '#platform';
import { Command, CommandRunner, Option } from 'nest-commander';
import { cliKafka, withDatabase } from '../cli-context.js';
import { checkTopics, type TopicFigures } from './reconcile-topics.js';

interface ReconcileOptions {
  json?: boolean;
  deadlineMs?: number;
  strandedAfterMs?: number;
  skipTopics?: boolean;
  provider?: boolean;
  dryRun?: boolean;
}

@Command({
  name: 'reconcile',
  description:
    'Prove the invariant from the database and the topics: every id terminal (with its terminal record and terminal event), dead-lettered or in flight; exit 1 if any is lost, stranded or stuck',
})
export class ReconcileCommand extends CommandRunner {
  async run(_params: string[], options: ReconcileOptions): Promise<void> {
    if (options.dryRun && !options.provider) throw new Error('--dry-run only applies to --provider');
    const report: ReconcileReport & { topics?: TopicFigures; provider?: SweepReport } = await withDatabase(async (ds, env) => {
      // First, so that what it hands over or cancels is part of what the ledger then checks.
      const provider = options.provider ? await this.sweep(ds, options.dryRun ?? false) : undefined;
      const ledger = withSweep(await reconcile(ds.manager, {
        defaultStageDeadlineMs: options.deadlineMs ?? env.STAGE_DEADLINE_MS,
        strandedAfterMs: options.strandedAfterMs ?? env.STRANDED_AFTER_MS,
        defaultPromptVersion: env.PROMPT_VERSION,
        listLimit: options.json ? 100_000 : 1_000,
      }), provider);
      if (options.skipTopics) return ledger;
      try {
        const { checks, figures } = await checkTopics(cliKafka(env), ds, { prefix: env.KAFKA_TOPIC_PREFIX, defaultPromptVersion: env.PROMPT_VERSION });
        return { ...ledger, checks: [...ledger.checks, ...checks], invariantHolds: ledger.invariantHolds && checks.every((check) => check.ok), topics: figures };
      } catch (error) {
        // Fail closed, but still show what the database says: the topics could not vouch for it.
        const unread = { name: 'the topics read', ok: false, detail: `could not read the topics (${(error as Error).message}); --skip-topics checks the database only` };
        return { ...ledger, checks: [...ledger.checks, unread], invariantHolds: false };
      }
    });
    let text = formatReconcile(report);
    for (const swept of report.provider?.unknown.slice(0, 50) ?? []) {
      text += `\n  PROVIDER  ${swept.providerBatchId} (${swept.status}, key ${swept.batchKey}): ${swept.action}: ${swept.reason}`;
    }
    for (const foreign of report.provider?.foreign.slice(0, 20) ?? []) {
      text += `\n  FOREIGN   ${foreign.providerBatchId} (${foreign.status}, key ${foreign.batchKey}): no batch of this database carries the key; left alone`;
    }
    if (report.topics && report.topics.notYetIngested > 0) {
      text += `\n  note: ${report.topics.notYetIngested} PR events not consumed by the batch-submitter yet (not counted above)`;
    }
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${text}\n`);
    if (reconcileFailed(report)) process.exitCode = 1;
  }

  /** Sweeps every provider the submitting services would reach (read from the same variables), one after another. */
  private async sweep(ds: Parameters<typeof sweepProvider>[0], dryRun: boolean): Promise<SweepReport> {
    const env = parseEnv(submissionEnv);
    const reports: SweepReport[] = [];
    for (const provider of batchProvidersFrom(env, promptRegistryFrom(env), databaseRecords(ds)).all()) reports.push(await sweepProvider(ds, provider, { dryRun }));
    return mergeSweepReports(reports);
  }

  @Option({
    flags: '--provider',
    description: "also list the provider's batches that carry our batches' keys: hand over or cancel those the database does not know, retry refused cancels, delete unused input files",
  })
  parseProvider(): boolean {
    return true;
  }

  @Option({ flags: '--dry-run', description: 'with --provider: list what the sweep would do, change nothing' })
  parseDryRun(): boolean {
    return true;
  }

  @Option({ flags: '--json', description: 'print the full report as JSON' })
  parseJson(): boolean {
    return true;
  }

  @Option({ flags: '--deadline-ms <ms>', description: 'age after which a request without its own deadline counts as stuck' })
  parseDeadline(value: string): number {
    return positiveMs('--deadline-ms', value);
  }

  @Option({ flags: '--stranded-after-ms <ms>', description: 'how long an in-flight request may go without moving before it counts as stranded (STRANDED_AFTER_MS)' })
  parseStrandedAfter(value: string): number {
    return positiveMs('--stranded-after-ms', value);
  }

  @Option({ flags: '--skip-topics', description: 'check the database only (no terminal-event or dead-letter topic checks)' })
  parseSkipTopics(): boolean {
    return true;
  }
}

/** One report for the sweeps of several providers; `finishedUnused` counts every provider's strays already. */
function mergeSweepReports(reports: SweepReport[]): SweepReport {
  return {
    providerBatchesSeen: reports.reduce((sum, r) => sum + r.providerBatchesSeen, 0),
    unknown: reports.flatMap((r) => r.unknown),
    foreign: reports.flatMap((r) => r.foreign),
    cancelsRetried: reports.flatMap((r) => r.cancelsRetried),
    filesDeleted: reports.flatMap((r) => r.filesDeleted),
    unknownAfter: reports.reduce((sum, r) => sum + r.unknownAfter, 0),
    finishedUnused: Math.max(0, ...reports.map((r) => r.finishedUnused)),
  };
}

function positiveMs(flag: string, value: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`${flag} must be a positive integer, got "${value}"`);
  return ms;
}

/** The sweep's outcome as a check of its own: every provider batch with our key known to the database. */
function withSweep<R extends ReconcileReport>(ledger: R, sweep: SweepReport | undefined): R & { provider?: SweepReport } {
  if (!sweep) return ledger;
  const count = (action: string) => sweep.unknown.filter((b) => b.action === action).length;
  const failedCancels = count('cancel_failed') + sweep.cancelsRetried.filter((c) => c.outcome === 'cancel_failed').length;
  // A duplicate found after it ran was paid for twice: said loudly the time it is found, counted ever after.
  const ok = sweep.unknownAfter === 0 && failedCancels === 0 && count('finished_unused') === 0;
  const detail =
    `${sweep.providerBatchesSeen - sweep.foreign.length} provider batches carry our keys, ${sweep.unknown.length} were unknown` +
    (sweep.unknownAfter > 0 ? ` (dry run: ${sweep.unknownAfter} left as they are)` : ` (handed over ${count('handed_over')}, cancelled ${count('cancelled')}, finished unused ${count('finished_unused')})`) +
    `; cancels retried ${sweep.cancelsRetried.length}, refused ${failedCancels}; input files deleted ${sweep.filesDeleted.length}` +
    `; duplicates that ran unused (paid twice), all told ${sweep.finishedUnused}` +
    (sweep.foreign.length > 0 ? `; ${sweep.foreign.length} with keys no batch here carries, left alone` : '');
  return {
    ...ledger,
    provider: sweep,
    checks: [...ledger.checks, { name: 'provider batches known to the database', ok, detail }],
    invariantHolds: ledger.invariantHolds && ok,
  };
}
