import { retryBatch } from '#ledger';
import { inTransaction } from '#platform';
import { Command, CommandRunner } from 'nest-commander';
import { fail, withDatabase } from '../cli-context.js';

@Command({ name: 'retry-batch', arguments: '<batch_id>', description: 'Poll, resume or re-queue a batch now' })
export class RetryBatchCommand extends CommandRunner {
  async run([batchId]: string[]): Promise<void> {
    const outcome = await withDatabase((ds) => inTransaction(ds, (m) => retryBatch(m, batchId!)));
    if (!outcome) fail(`no batch with id ${batchId}`, 1);
    if (outcome.conflict) fail(outcome.message, 1);
    process.stdout.write(`${outcome.message}\n`);
  }
}
