import type { EntityManager } from 'typeorm';
import type { ProviderBatchRef } from './provider-port.js';

/**
 * What became of a provider batch that carries one of our keys but is not the one recorded for it:
 * `handed_over` waits for the submission lease holder to adopt it or cancel it; `cancelling` and
 * `cancelled` are duplicates stopped at the provider (`cancel_failed` is retried by the sweep);
 * `finished_unused` had already run when it was found (paid for, nothing left to stop).
 */
export type StrayDisposition = 'handed_over' | 'cancelling' | 'cancelled' | 'cancel_failed' | 'finished_unused';

/** Disposition of a stray that will not run again, by the provider's status. */
export const finishedAs = (status: string): StrayDisposition => (status === 'cancelled' ? 'cancelled' : 'finished_unused');

export interface StrayBatch extends ProviderBatchRef {
  batchKey: string;
  batchId: string | null;
  disposition: StrayDisposition;
  foundBy: 'create' | 'key_lookup' | 'sweep';
  note: string | null;
}

/** The one writer and reader of `stray_provider_batches`. */
export class StrayBatches {
  /** Records a stray; one already known keeps its row, and only takes the new disposition if it was waiting or failed. */
  async add(manager: EntityManager, stray: StrayBatch): Promise<void> {
    await manager.query(
      `INSERT INTO stray_provider_batches (provider_batch_id, batch_key, batch_id, input_file_id, provider_status, disposition, found_by, note)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (provider_batch_id) DO UPDATE
         SET disposition = EXCLUDED.disposition, provider_status = EXCLUDED.provider_status, note = EXCLUDED.note, updated_at = now()
         WHERE stray_provider_batches.disposition IN ('handed_over', 'cancel_failed')`,
      [stray.providerBatchId, stray.batchKey, stray.batchId, stray.inputFileId || null, stray.status, stray.disposition, stray.foundBy, stray.note],
    );
  }

  async settle(manager: EntityManager, providerBatchId: string, disposition: StrayDisposition, status: string | null, note: string | null): Promise<void> {
    await manager.query(
      `UPDATE stray_provider_batches SET disposition = $2, provider_status = COALESCE($3, provider_status), note = $4, updated_at = now()
       WHERE provider_batch_id = $1`,
      [providerBatchId, disposition, status, note?.slice(0, 2_000) ?? null],
    );
  }

  /** A stray that became the batch's recorded provider batch is no longer a stray. */
  async remove(manager: EntityManager, providerBatchId: string): Promise<void> {
    await manager.query(`DELETE FROM stray_provider_batches WHERE provider_batch_id = $1`, [providerBatchId]);
  }

  async handedOver(manager: EntityManager, batchId: string): Promise<ProviderBatchRef[]> {
    const rows = await manager.query(
      `SELECT provider_batch_id, input_file_id, provider_status, extract(epoch FROM found_at)::float8 AS found
       FROM stray_provider_batches WHERE batch_id = $1 AND disposition = 'handed_over' ORDER BY found_at`,
      [batchId],
    );
    return rows.map((r: { provider_batch_id: string; input_file_id: string | null; provider_status: string | null; found: number }) => ({
      providerBatchId: r.provider_batch_id,
      inputFileId: r.input_file_id ?? '',
      status: r.provider_status ?? 'validating',
      createdAt: Math.floor(r.found),
    }));
  }

  /**
   * Strays still to be stopped (for the sweep): those whose cancel was not accepted yet, and those handed over
   * to a batch that was then submitted with another provider batch (nobody will adopt them now).
   */
  async unsettled(manager: EntityManager): Promise<Array<{ providerBatchId: string; batchKey: string; batchId: string | null; model: string | null }>> {
    return manager.query(
      `SELECT s.provider_batch_id AS "providerBatchId", s.batch_key AS "batchKey", s.batch_id AS "batchId", b.model
       FROM stray_provider_batches s LEFT JOIN batches b ON b.batch_id = s.batch_id
       WHERE s.disposition IN ('cancelling', 'cancel_failed') OR (s.disposition = 'handed_over' AND b.state IS DISTINCT FROM 'creating')
       ORDER BY s.found_at`,
    );
  }

  /** Strays that ran to the end without being used: paid for, for nothing. */
  async finishedUnused(manager: EntityManager): Promise<number> {
    const [row] = await manager.query(`SELECT count(*)::int AS n FROM stray_provider_batches WHERE disposition = 'finished_unused'`);
    return row.n;
  }
}
