import { TERMINAL_BATCH_STATUSES } from '#groq-batch';
import { inTransaction } from '#platform';
import type { DataSource } from 'typeorm';
import type { BatchProviderPort, KeyedProviderBatch } from './provider-port.js';
import { modelRefOf } from './providers/model-ref.js';
import type { BatchProvider } from './providers/provider-set.js';
import { finishedAs, type StrayDisposition, StrayBatches } from './stray-batches.js';

/** What the sweep did with one provider batch the database did not know. */
export interface SweptBatch {
  providerBatchId: string;
  batchKey: string;
  /** The provider's status when found. */
  status: string;
  /** Our batch carrying the key. */
  batchId: string;
  action: StrayDisposition | 'none (dry run)';
  reason: string;
}

export interface SweepReport {
  /** Provider batches carrying a batch key, as far back as the provider lists. */
  providerBatchesSeen: number;
  unknown: SweptBatch[];
  /**
   * Batches whose key no batch of this database carries: another deployment's on the same account, or ours
   * from before a database was restored. Listed, never touched.
   */
  foreign: Array<{ providerBatchId: string; batchKey: string; status: string }>;
  /** Strays whose cancel had not been accepted, tried again. */
  cancelsRetried: Array<{ providerBatchId: string; outcome: StrayDisposition }>;
  /** Our input files deleted: their batch is over (or was never created) and nothing else uses them. */
  filesDeleted: string[];
  /** Provider batches of ours still unknown to the database after the sweep (a dry run leaves all of them). */
  unknownAfter: number;
  /** Strays that ran without being used (paid for twice), all told; those found by this sweep are in `unknown`. */
  finishedUnused: number;
}

export interface SweepOptions {
  dryRun?: boolean;
  /** Only provider batches created since then (unix seconds); unset: as far back as the provider lists. */
  sinceSeconds?: number;
  /** An input file of ours no batch refers to is deleted once this old (an upload being recorded is younger). */
  orphanFileAgeMs?: number;
  nowMs?: number;
}

/**
 * The provider sweep behind `cascade reconcile --provider`: every provider batch that carries the key of one
 * of our batches but is unknown to the database is made known and dealt with. If that batch is still being
 * submitted, the provider batch is handed over (its submitter adopts it at the next attempt instead of
 * creating another); otherwise it is cancelled if it can still run, or recorded as finished and unused.
 * Each decision is taken under the batch's row lock, the lock a submitter records under, so the sweep never
 * cancels a batch a submitter is recording. Cancels the provider refused earlier are tried again, and input
 * files of ours that no live batch needs are deleted. Keys no batch of ours carries are left alone.
 */
export async function sweepProvider(dataSource: DataSource, of: Pick<BatchProvider, 'name' | 'port'>, options: SweepOptions = {}): Promise<SweepReport> {
  const provider = of.port;
  const strays = new StrayBatches();
  const report: SweepReport = { providerBatchesSeen: 0, unknown: [], foreign: [], cancelsRetried: [], filesDeleted: [], unknownAfter: 0, finishedUnused: 0 };

  const listed: KeyedProviderBatch[] = [];
  for await (const batch of provider.listKeyed({ sinceSeconds: options.sinceSeconds })) listed.push(batch);
  report.providerBatchesSeen = listed.length;

  for (const found of listed) {
    const toCancel = await inTransaction(dataSource, async (manager) => {
      const [ours] = await manager.query(`SELECT batch_id, state, provider_batch_id FROM batches WHERE batch_key = $1 FOR UPDATE`, [found.batchKey]);
      if (!ours) {
        report.foreign.push({ providerBatchId: found.providerBatchId, batchKey: found.batchKey, status: found.status });
        return false;
      }
      const known = ours.provider_batch_id === found.providerBatchId
        || (await manager.query(`SELECT 1 FROM stray_provider_batches WHERE provider_batch_id = $1`, [found.providerBatchId])).length > 0;
      if (known) return false;
      const creating = ours.state === 'creating';
      const swept: SweptBatch = {
        providerBatchId: found.providerBatchId,
        batchKey: found.batchKey,
        status: found.status,
        batchId: ours.batch_id,
        action: 'none (dry run)',
        reason: creating
          ? `batch ${ours.batch_id} is still being submitted: its submitter adopts this one instead of creating another`
          : `batch ${ours.batch_id} is ${ours.state} with ${ours.provider_batch_id ?? 'no provider batch'}`,
      };
      report.unknown.push(swept);
      if (options.dryRun) return false;
      const runnable = !TERMINAL_BATCH_STATUSES.has(found.status);
      swept.action = creating ? 'handed_over' : runnable ? 'cancelling' : finishedAs(found.status);
      await strays.add(manager, { ...found, batchId: ours.batch_id, disposition: swept.action, foundBy: 'sweep', note: swept.reason });
      return swept.action === 'cancelling' ? swept : false;
    });
    // Decided under the lock: the batch is recorded with another provider batch, which nothing changes now.
    if (toCancel) {
      toCancel.action = await cancel(provider, toCancel.providerBatchId);
      await strays.settle(dataSource.manager, toCancel.providerBatchId, toCancel.action, null, toCancel.reason);
    }
  }
  report.unknownAfter = options.dryRun ? report.unknown.length : 0;
  if (options.dryRun) return report;

  // Each provider's strays are stopped at that provider (a stray is of its batch's model's provider).
  const ofThisProvider = (model: string | null) => (model === null ? of.name === 'groq' : modelRefOf(model).provider === of.name);
  for (const stray of (await strays.unsettled(dataSource.manager)).filter((s) => ofThisProvider(s.model))) {
    const status = await provider.retrieve(stray.providerBatchId).then((b) => b.status, () => null);
    const outcome = status !== null && TERMINAL_BATCH_STATUSES.has(status) ? finishedAs(status) : await cancel(provider, stray.providerBatchId);
    await strays.settle(dataSource.manager, stray.providerBatchId, outcome, status, outcome === 'cancel_failed' ? 'the provider refused the cancel again' : null);
    report.cancelsRetried.push({ providerBatchId: stray.providerBatchId, outcome });
  }

  report.filesDeleted = await deleteUnusedInputFiles(dataSource, provider, options);
  report.finishedUnused = await strays.finishedUnused(dataSource.manager);
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
 * Deletes our input files (named after the key of one of our batches) that no batch still needs: a file
 * stays while a batch being created, in flight at the provider, or a stray that may still run refers to it;
 * one nothing refers to stays until it is `orphanFileAgeMs` old (an upload whose id is about to be recorded).
 */
async function deleteUnusedInputFiles(dataSource: DataSource, provider: BatchProviderPort, options: SweepOptions): Promise<string[]> {
  const files = await provider.listInputFiles();
  if (files.length === 0) return [];
  const ourKeys = new Set<string>(
    (await dataSource.query(`SELECT batch_key FROM batches WHERE batch_key = ANY($1)`, [[...new Set(files.map((f) => f.batchKey))]])).map(
      (r: { batch_key: string }) => r.batch_key,
    ),
  );
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
  for (const file of files.filter((f) => ourKeys.has(f.batchKey))) {
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
