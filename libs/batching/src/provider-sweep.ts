import { TERMINAL_BATCH_STATUSES } from '#groq-batch';
import type { DataSource } from 'typeorm';
import type { BatchProviderPort, KeyedProviderBatch } from './provider-port.js';
import { type StrayDisposition, StrayBatches } from './stray-batches.js';

/** What the sweep did with one provider batch the database did not know. */
export interface SweptBatch {
  providerBatchId: string;
  batchKey: string;
  /** The provider's status when found. */
  status: string;
  /** Our batch carrying the key, if any. */
  batchId: string | null;
  action: StrayDisposition | 'none (dry run)';
  reason: string;
}

export interface SweepReport {
  /** Provider batches carrying one of our keys, as far back as the provider lists. */
  providerBatchesSeen: number;
  unknown: SweptBatch[];
  /** Strays whose cancel had not been accepted, tried again. */
  cancelsRetried: Array<{ providerBatchId: string; outcome: StrayDisposition }>;
  /** Our input files deleted: their batch is over (or was never created) and nothing else uses them. */
  filesDeleted: string[];
  /** Provider batches still unknown to the database after the sweep (a dry run leaves all of them). */
  unknownAfter: number;
}

export interface SweepOptions {
  dryRun?: boolean;
  /** An input file no batch refers to is deleted once this old (an upload being recorded is younger). */
  orphanFileAgeMs?: number;
  nowMs?: number;
}

/** Disposition of a stray whose batch will not run again, by the provider's status. */
const finishedAs = (status: string): StrayDisposition => (status === 'cancelled' ? 'cancelled' : 'finished_unused');

/**
 * The provider sweep behind `cascade reconcile --provider`: every provider batch that carries one of our
 * batch keys but is unknown to the database is made known and dealt with. A batch whose key is still being
 * submitted is handed over (its submitter adopts it at the next attempt instead of creating another); any
 * other is cancelled if it can still run, or recorded as finished and unused. Cancels the provider refused
 * earlier are tried again, and input files no live batch needs are deleted.
 */
export async function sweepProvider(dataSource: DataSource, provider: BatchProviderPort, options: SweepOptions = {}): Promise<SweepReport> {
  const strays = new StrayBatches();
  const manager = dataSource.manager;
  const report: SweepReport = { providerBatchesSeen: 0, unknown: [], cancelsRetried: [], filesDeleted: [], unknownAfter: 0 };

  const listed: KeyedProviderBatch[] = [];
  for await (const batch of provider.listKeyed()) listed.push(batch);
  report.providerBatchesSeen = listed.length;
  const known = new Set<string>(
    (
      await manager.query(
        `SELECT provider_batch_id FROM batches WHERE provider_batch_id = ANY($1)
         UNION SELECT provider_batch_id FROM stray_provider_batches WHERE provider_batch_id = ANY($1)`,
        [listed.map((b) => b.providerBatchId)],
      )
    ).map((r: { provider_batch_id: string }) => r.provider_batch_id),
  );

  for (const found of listed.filter((b) => !known.has(b.providerBatchId))) {
    const [ours] = await manager.query(`SELECT batch_id, state, provider_batch_id FROM batches WHERE batch_key = $1`, [found.batchKey]);
    const swept: SweptBatch = { providerBatchId: found.providerBatchId, batchKey: found.batchKey, status: found.status, batchId: ours?.batch_id ?? null, action: 'none (dry run)', reason: '' };
    report.unknown.push(swept);
    const runnable = !TERMINAL_BATCH_STATUSES.has(found.status);
    if (ours?.state === 'creating') {
      swept.reason = `batch ${ours.batch_id} is still being submitted: its submitter adopts this one instead of creating another`;
      if (!options.dryRun) swept.action = 'handed_over';
    } else {
      swept.reason = ours
        ? `batch ${ours.batch_id} is ${ours.state} with ${ours.provider_batch_id ?? 'no provider batch'}`
        : 'no batch of ours carries this key';
      if (!options.dryRun) swept.action = runnable ? await cancel(provider, found.providerBatchId) : finishedAs(found.status);
    }
    if (options.dryRun) continue;
    await strays.add(manager, { ...found, batchId: swept.batchId, disposition: swept.action as StrayDisposition, foundBy: 'sweep', note: swept.reason });
  }
  report.unknownAfter = options.dryRun ? report.unknown.length : 0;
  if (options.dryRun) return report;

  for (const stray of await strays.unsettled(manager)) {
    const status = await provider.retrieve(stray.providerBatchId).then((b) => b.status, () => null);
    const outcome = status !== null && TERMINAL_BATCH_STATUSES.has(status) ? finishedAs(status) : await cancel(provider, stray.providerBatchId);
    await strays.settle(manager, stray.providerBatchId, outcome, status, outcome === 'cancel_failed' ? 'the provider refused the cancel again' : null);
    report.cancelsRetried.push({ providerBatchId: stray.providerBatchId, outcome });
  }

  report.filesDeleted = await deleteUnusedInputFiles(dataSource, provider, options);
  return report;
}

async function cancel(provider: BatchProviderPort, providerBatchId: string): Promise<StrayDisposition> {
  try {
    await provider.cancel(providerBatchId);
    return 'cancelled';
  } catch {
    return 'cancel_failed';
  }
}

/**
 * Deletes our input files that no batch still needs: a file stays while a batch being created, in flight at
 * the provider, or a stray that may still run refers to it; a file nothing refers to stays until it is
 * `orphanFileAgeMs` old (an upload whose id is about to be recorded).
 */
async function deleteUnusedInputFiles(dataSource: DataSource, provider: BatchProviderPort, options: SweepOptions): Promise<string[]> {
  const files = await provider.listInputFiles();
  if (files.length === 0) return [];
  const rows: Array<{ file_id: string; live: boolean }> = await dataSource.query(
    `SELECT input_file_id AS file_id, bool_or(state IN ('creating', 'submitted')) AS live
     FROM batches WHERE input_file_id = ANY($1) GROUP BY input_file_id
     UNION ALL
     SELECT input_file_id, bool_or(disposition IN ('handed_over', 'cancelling', 'cancel_failed'))
     FROM stray_provider_batches WHERE input_file_id = ANY($1) GROUP BY input_file_id`,
    [files.map((f) => f.fileId)],
  );
  const referenced = new Map<string, boolean>();
  for (const row of rows) referenced.set(row.file_id, (referenced.get(row.file_id) ?? false) || row.live);
  const now = options.nowMs ?? Date.now();
  const orphanAge = options.orphanFileAgeMs ?? 60 * 60 * 1000;
  const deleted: string[] = [];
  for (const file of files) {
    const live = referenced.get(file.fileId);
    const unused = live === false || (live === undefined && now - file.createdAt * 1000 >= orphanAge);
    if (!unused) continue;
    try {
      await provider.deleteFile(file.fileId);
      deleted.push(file.fileId);
    } catch {
      // Left for the next sweep; the report lists only what is gone.
    }
  }
  await dataSource.query(`UPDATE batches SET input_file_deleted_at = now() WHERE input_file_id = ANY($1) AND input_file_deleted_at IS NULL`, [deleted]);
  return deleted;
}
