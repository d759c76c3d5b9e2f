import { formatReconcile, reconcile } from '#ledger';
import { Command, CommandRunner, Option } from 'nest-commander';
import { withDatabase } from '../cli-context.js';

@Command({
  name: 'reconcile',
  description: 'Prove the invariant from the database: every id terminal or in flight; exit 1 if any is lost or stuck',
})
export class ReconcileCommand extends CommandRunner {
  async run(_params: string[], options: { json?: boolean; deadlineMs?: number }): Promise<void> {
    const report = await withDatabase((ds, env) =>
      reconcile(ds.manager, { defaultStageDeadlineMs: options.deadlineMs ?? env.STAGE_DEADLINE_MS, listLimit: options.json ? 100_000 : 1_000 }),
    );
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReconcile(report)}\n`);
    if (report.lost.length > 0 || report.stuck > 0 || !report.invariantHolds) process.exitCode = 1;
  }

  @Option({ flags: '--json', description: 'print the full report as JSON' })
  parseJson(): boolean {
    return true;
  }

  @Option({ flags: '--deadline-ms <ms>', description: 'age after which a request without its own deadline counts as stuck' })
  parseDeadline(value: string): number {
    const ms = Number(value);
    if (!Number.isInteger(ms) || ms <= 0) throw new Error(`--deadline-ms must be a positive integer, got "${value}"`);
    return ms;
  }
}
