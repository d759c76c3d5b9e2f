import { dailySpend, quotaFallbackText, recentQuotaFallbacks } from '#batching';
import { batchDetail, heldBatchText, ledgerEquation, reconcile } from '#ledger';
import { submissionStatus } from '#platform';
import { Command, CommandRunner, Option } from 'nest-commander';
import { fail, withDatabase } from '../cli-context.js';

@Command({
  name: 'status',
  arguments: '[batch_id]',
  description: "Without an id: whether submission runs, is paused or held by a budget (and why), quota fallbacks of the last day, and the request counts. With one: a batch's state, counts, pass, model, cost and failures by code (our id or the provider's)",
})
export class StatusCommand extends CommandRunner {
  async run([batchId]: string[], options: { json?: boolean }): Promise<void> {
    if (!batchId) return this.overall(options);
    const found = await withDatabase((ds) => batchDetail(ds.manager, batchId!));
    if (!found) fail(`no batch with id ${batchId} (neither ours nor the provider's)`, 1);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
      return;
    }
    const { batch, items, failures } = found;
    const outcomes = new Map<string, number>();
    for (const item of items as Array<{ outcome: string }>) outcomes.set(item.outcome, (outcomes.get(item.outcome) ?? 0) + 1);
    const lines = [
      `batch ${batch.batch_id}  provider ${batch.provider_batch_id ?? '(not created yet)'}`,
      `state ${batch.state}  provider status ${batch.provider_status ?? '-'}  pass ${batch.pass}  model ${batch.model}  prompt ${batch.prompt_version}`,
      `requests ${batch.request_count}  outcomes ${[...outcomes].map(([outcome, count]) => `${outcome} ${count}`).join(', ') || 'none yet'}`,
      `cost $${Number(batch.cost_usd).toFixed(6)}  created ${batch.created_at.toISOString()}  submitted ${batch.submitted_at?.toISOString() ?? '-'}  finished ${batch.finished_at?.toISOString() ?? '-'}`,
      `failures by code: ${failures.length ? (failures as Array<{ code: string; count: number }>).map((f) => `${f.code} ${f.count}`).join(', ') : 'none'}`,
    ];
    if (batch.state === 'creating' || batch.state === 'submitted') {
      const leased = batch.lease_owner && batch.lease_until && batch.lease_until.getTime() > Date.now();
      const lease = leased ? `held by ${batch.lease_owner} until ${batch.lease_until!.toISOString()}` : 'free';
      const next =
        batch.state === 'submitted'
          ? `next poll ${batch.next_poll_at?.toISOString() ?? '-'}`
          : batch.held_reason
            ? heldBatchText({ batchId: batch.batch_id, attempts: batch.submit_attempts, reason: batch.held_reason })
            : `submission attempts failed so far ${batch.submit_attempts}${!leased && batch.lease_until ? `, next attempt ${batch.lease_until.toISOString()}` : ''}`;
      lines.push(`lease ${lease}  ${next}`);
    }
    if (batch.last_error) lines.push(`last error: ${batch.last_error}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }

  private async overall(options: { json?: boolean }): Promise<void> {
    const { submission, summary, heldBatches, spend, quotaFallbacks } = await withDatabase(async (ds, env) => ({
      submission: await submissionStatus(ds.manager),
      quotaFallbacks: await recentQuotaFallbacks(ds.manager),
      spend: { ...(await dailySpend(ds.manager)), budgetUsd: env.DAILY_SPEND_BUDGET_USD ?? null },
      heldBatches: (await ds.query(
        `SELECT batch_id AS "batchId", submit_attempts AS attempts, held_reason AS reason FROM batches
         WHERE state = 'creating' AND held_reason IS NOT NULL ORDER BY created_at LIMIT 20`,
      )) as Array<{ batchId: string; attempts: number; reason: string }>,
      summary: await reconcile(ds.manager, { defaultStageDeadlineMs: env.STAGE_DEADLINE_MS, strandedAfterMs: env.STRANDED_AFTER_MS, defaultPromptVersion: env.PROMPT_VERSION, listLimit: 0 }),
    }));
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ submission, spend, heldBatches, quotaFallbacks, requests: summary }, null, 2)}\n`);
      return;
    }
    const lines = [
      `submission: ${submission.message}`,
      `requests: ${ledgerEquation(summary)}; stranded ${summary.stranded}, stuck ${summary.stuck}, lost ${summary.lost.length}`,
      `spend today (UTC): $${spend.settledUsd.toFixed(6)} billed for finished batches, $${spend.reservedUsd.toFixed(6)} reserved for open ones` +
        (spend.budgetUsd === null ? ' (no DAILY_SPEND_BUDGET_USD)' : ` (budget $${spend.budgetUsd.toFixed(4)})`),
      ...heldBatches.map(heldBatchText),
      ...quotaFallbacks.map(quotaFallbackText),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }

  @Option({ flags: '--json', description: 'print as JSON' })
  parseJson(): boolean {
    return true;
  }
}
