import { Command, CommandRunner, Option } from 'nest-commander';
import { fail, withDatabase } from '../cli-context.js';

interface BatchStatusRow {
  batch_id: string;
  provider_batch_id: string | null;
  state: string;
  provider_status: string | null;
  pass: number;
  model: string;
  prompt_version: string;
  request_count: number;
  counts: Record<string, number>;
  cost_usd: string;
  created_at: Date;
  submitted_at: Date | null;
  finished_at: Date | null;
  last_error: string | null;
}

@Command({ name: 'status', arguments: '<batch_id>', description: "A batch's state, counts, pass, model, cost and failures by code (our id or the provider's)" })
export class StatusCommand extends CommandRunner {
  async run([batchId]: string[], options: { json?: boolean }): Promise<void> {
    const found = await withDatabase(async (ds) => {
      const [batch]: BatchStatusRow[] = await ds.query(
        `SELECT batch_id, provider_batch_id, state, provider_status, pass, model, prompt_version, request_count, counts,
                cost_usd, created_at, submitted_at, finished_at, last_error
         FROM batches WHERE batch_id = $1 OR provider_batch_id = $1`,
        [batchId],
      );
      if (!batch) return null;
      const outcomes = await ds.query(
        `SELECT coalesce(outcome, 'pending') AS outcome, count(*)::int AS count FROM batch_items WHERE batch_id = $1 GROUP BY 1 ORDER BY 1`,
        [batch.batch_id],
      );
      const failures = await ds.query(
        `SELECT code, count(*)::int AS count FROM attempts WHERE batch_id = $1 AND outcome = 'failed' GROUP BY code ORDER BY count DESC`,
        [batch.batch_id],
      );
      return { batch, outcomes, failures };
    });
    if (!found) fail(`no batch with id ${batchId} (neither ours nor the provider's)`, 1);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
      return;
    }
    const { batch, outcomes, failures } = found;
    const lines = [
      `batch ${batch.batch_id}  provider ${batch.provider_batch_id ?? '(not created yet)'}`,
      `state ${batch.state}  provider status ${batch.provider_status ?? '-'}  pass ${batch.pass}  model ${batch.model}  prompt ${batch.prompt_version}`,
      `requests ${batch.request_count}  outcomes ${outcomes.map((o: { outcome: string; count: number }) => `${o.outcome} ${o.count}`).join(', ')}`,
      `cost $${Number(batch.cost_usd).toFixed(6)}  created ${batch.created_at.toISOString()}  submitted ${batch.submitted_at?.toISOString() ?? '-'}  finished ${batch.finished_at?.toISOString() ?? '-'}`,
      `failures by code: ${failures.length ? failures.map((f: { code: string; count: number }) => `${f.code} ${f.count}`).join(', ') : 'none'}`,
    ];
    if (batch.last_error) lines.push(`last error: ${batch.last_error}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }

  @Option({ flags: '--json', description: 'print as JSON' })
  parseJson(): boolean {
    return true;
  }
}
