import { inTransaction, returnedRows } from '#platform';
import { Command, CommandRunner } from 'nest-commander';
import { fail, withDatabase } from '../cli-context.js';

/**
 * Retries a batch by hand: a submitted batch is polled again now; an interrupted submission is resumed
 * now (found by its key at the provider first); for a finished batch, every request still stranded in
 * it is queued again as a new attempt on the same model.
 */
@Command({ name: 'retry-batch', arguments: '<batch_id>', description: 'Poll, resume or re-queue a batch now' })
export class RetryBatchCommand extends CommandRunner {
  async run([batchId]: string[]): Promise<void> {
    const message = await withDatabase((ds) =>
      inTransaction(ds, async (m) => {
        const [batch] = await m.query(`SELECT batch_id, state FROM batches WHERE batch_id = $1 OR provider_batch_id = $1 FOR UPDATE`, [batchId]);
        if (!batch) return null;
        if (batch.state === 'submitted') {
          await m.query(`UPDATE batches SET next_poll_at = now(), lease_owner = NULL, lease_until = NULL WHERE batch_id = $1`, [batch.batch_id]);
          return `batch ${batch.batch_id} will be polled now`;
        }
        if (batch.state === 'creating') {
          await m.query(`UPDATE batches SET lease_owner = NULL, lease_until = NULL WHERE batch_id = $1`, [batch.batch_id]);
          return `submission of batch ${batch.batch_id} will be resumed now`;
        }
        const requeued = returnedRows(await m.query(
          `UPDATE requests SET status = 'pending', stage = 'retry_queued', attempt = attempt + 1, current_batch_id = NULL,
                  stage_deadline_at = NULL, updated_at = now()
           WHERE current_batch_id = $1 AND status = 'in_flight' RETURNING request_id`,
          [batch.batch_id],
        ));
        return `batch ${batch.batch_id} is ${batch.state}: ${requeued.length} stranded requests queued again`;
      }),
    );
    if (!message) fail(`no batch with id ${batchId}`, 1);
    process.stdout.write(`${message}\n`);
  }
}
