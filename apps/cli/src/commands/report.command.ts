import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { priceTableFrom } from '#groq-batch';
import { runReport, teamInsights } from '#ledger';
import { routerReport } from '#routing';
import { Command, CommandRunner, Option } from 'nest-commander';
import { withDatabase } from '../cli-context.js';
import { strongModelBasis } from '../pricing.js';
import { parseReportFormat, renderReport, type ReportFormat } from './report-output.js';

@Command({
  name: 'report',
  description: 'Coverage, AI adoption, failures and recovery, cost, the router\'s effect, and team insights (table, json or a self-contained html page)',
})
export class ReportCommand extends CommandRunner {
  async run(_params: string[], options: { format?: ReportFormat; promptVersion?: string; out?: string }): Promise<void> {
    const { run, insights, router } = await withDatabase(async (ds, env) => ({
      run: await runReport(ds.manager, {
        promptVersion: options.promptVersion,
        ...strongModelBasis(env),
        defaultStageDeadlineMs: env.STAGE_DEADLINE_MS,
        strandedAfterMs: env.STRANDED_AFTER_MS,
        defaultPromptVersion: env.PROMPT_VERSION,
      }),
      insights: await teamInsights(ds.manager, { promptVersion: options.promptVersion }),
      router: await routerReport(ds.manager, priceTableFrom(env.MODEL_PRICES_JSON)),
    }));
    const output = renderReport(options.format ?? 'table', run, insights, router);
    if (!options.out) {
      process.stdout.write(output);
      return;
    }
    // stdout stays free for whatever the caller pipes; the path tells them where the report went.
    const path = resolve(options.out);
    writeFileSync(path, output);
    process.stderr.write(`${path}\n`);
  }

  @Option({ flags: '--format <format>', description: 'table (default), json ({ run, insights, router }) or html (one self-contained page)' })
  parseFormat(value: string): ReportFormat {
    return parseReportFormat(value);
  }

  @Option({ flags: '--out <file>', description: 'write the report to this file instead of stdout (its path goes to stderr)' })
  parseOut(value: string): string {
    return value;
  }

  @Option({ flags: '--prompt-version <version>', description: 'only this prompt version' })
  parsePromptVersion(value: string): string {
    return value;
  }
}
