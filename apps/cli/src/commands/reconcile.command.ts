import { formatReconcile, reconcile, reconcileFailed, type ReconcileReport } from '#ledger';
import { Command, CommandRunner, Option } from 'nest-commander';
import { cliKafka, withDatabase } from '../cli-context.js';
import { checkTopics, type TopicFigures } from './reconcile-topics.js';

interface ReconcileOptions {
  json?: boolean;
  deadlineMs?: number;
  strandedAfterMs?: number;
  skipTopics?: boolean;
}

@Command({
  name: 'reconcile',
  description:
    'Prove the invariant from the database and the topics: every id terminal (with its terminal record and terminal event), dead-lettered or in flight; exit 1 if any is lost, stranded or stuck',
})
export class ReconcileCommand extends CommandRunner {
  async run(_params: string[], options: ReconcileOptions): Promise<void> {
    const report: ReconcileReport & { topics?: TopicFigures } = await withDatabase(async (ds, env) => {
      const ledger = await reconcile(ds.manager, {
        defaultStageDeadlineMs: options.deadlineMs ?? env.STAGE_DEADLINE_MS,
        strandedAfterMs: options.strandedAfterMs ?? env.STRANDED_AFTER_MS,
        defaultPromptVersion: env.PROMPT_VERSION,
        listLimit: options.json ? 100_000 : 1_000,
      });
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
    if (report.topics && report.topics.notYetIngested > 0) {
      text += `\n  note: ${report.topics.notYetIngested} PR events not consumed by the batch-submitter yet (not counted above)`;
    }
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${text}\n`);
    if (reconcileFailed(report)) process.exitCode = 1;
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

function positiveMs(flag: string, value: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`${flag} must be a positive integer, got "${value}"`);
  return ms;
}
