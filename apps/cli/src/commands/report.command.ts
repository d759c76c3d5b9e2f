import { formatRunReport, runReport } from '#ledger';
import { Command, CommandRunner, Option } from 'nest-commander';
import { withDatabase } from '../cli-context.js';
import { STRONG_MODEL, strongModelPrice } from '../pricing.js';

@Command({ name: 'report', description: 'Coverage, AI adoption, failures and recovery, cost (table or json)' })
export class ReportCommand extends CommandRunner {
  async run(_params: string[], options: { format?: 'table' | 'json'; promptVersion?: string }): Promise<void> {
    const report = await withDatabase((ds, env) =>
      runReport(ds.manager, {
        promptVersion: options.promptVersion,
        strongModel: STRONG_MODEL,
        strongPrice: strongModelPrice(),
        defaultStageDeadlineMs: env.STAGE_DEADLINE_MS,
      }),
    );
    process.stdout.write(options.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : `${formatRunReport(report)}\n`);
  }

  @Option({ flags: '--format <format>', description: 'table (default) or json' })
  parseFormat(value: string): 'table' | 'json' {
    if (value !== 'table' && value !== 'json') throw new Error(`--format must be table or json, got "${value}"`);
    return value;
  }

  @Option({ flags: '--prompt-version <version>', description: 'only this prompt version' })
  parsePromptVersion(value: string): string {
    return value;
  }
}
