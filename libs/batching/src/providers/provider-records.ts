import type { DataSource } from 'typeorm';

/** What a provider whose batches carry no metadata asks the database to recognise its batches. */
export interface ProviderRecords {
  /** Which of these provider batch ids the database records, as a batch's or a stray's. */
  known(providerBatchIds: string[]): Promise<Set<string>>;
  /** The key of our batch whose hash starts with `tag` (`batchKeyTag`), or null. */
  keyOfTag(tag: string): Promise<string | null>;
}

export function databaseRecords(dataSource: DataSource): ProviderRecords {
  return {
    async known(ids) {
      if (ids.length === 0) return new Set();
      const rows: Array<{ id: string }> = await dataSource.query(
        `SELECT provider_batch_id AS id FROM batches WHERE provider_batch_id = ANY($1)
         UNION SELECT provider_batch_id FROM stray_provider_batches WHERE provider_batch_id = ANY($1)`,
        [ids],
      );
      return new Set(rows.map((row) => row.id));
    },
    async keyOfTag(tag) {
      if (!/^[0-9a-f]{16}$/.test(tag)) return null;
      const [row] = await dataSource.query(`SELECT batch_key FROM batches WHERE batch_key LIKE $1 LIMIT 1`, [`cascade-${tag}%`]);
      return row?.batch_key ?? null;
    },
  };
}
