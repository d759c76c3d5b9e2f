import { Gauge, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';

/** The tables that grow with traffic: each must be pruned or bounded by the work it records. */
export const MEASURED_TABLES = ['outbox', 'processed_events', 'requests', 'request_inputs', 'results', 'batches', 'batch_items', 'dead_letters'] as const;

/**
 * `cascade_table_rows{table}` (the planner's estimate, `pg_class.reltuples`: free to read, refreshed by
 * autovacuum/ANALYZE) and `cascade_table_bytes{table}` (heap, indexes and TOAST), read at scrape time and
 * cached briefly; `cascade_outbox_pending` and `cascade_outbox_parked` are counted through their partial indexes.
 */
export function registerStorageMetrics(registry: Registry, dataSource: DataSource, cacheMs = 5_000): void {
  interface Sizes {
    tables: Array<{ name: string; rows: number; bytes: number }>;
    pending: number;
    parked: number;
  }
  let cached: { at: number; sizes: Promise<Sizes> } | null = null;
  function read(): Promise<Sizes> {
    if (cached && Date.now() - cached.at < cacheMs) return cached.sizes;
    const sizes = (async (): Promise<Sizes> => {
      const tables: Array<{ name: string; rows: string; bytes: string }> = await dataSource.query(
        `SELECT c.relname AS name, greatest(c.reltuples, 0)::bigint AS rows, pg_total_relation_size(c.oid) AS bytes
         FROM pg_class c WHERE c.oid IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)`,
        [[...MEASURED_TABLES]],
      );
      const [outbox]: Array<{ pending: string; parked: string }> = await dataSource.query(
        `SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_reason IS NULL) AS pending,
                (SELECT count(*) FROM outbox WHERE parked_reason IS NOT NULL) AS parked`,
      );
      return {
        tables: tables.map((t) => ({ name: t.name, rows: Number(t.rows), bytes: Number(t.bytes) })),
        pending: Number(outbox!.pending),
        parked: Number(outbox!.parked),
      };
    })();
    cached = { at: Date.now(), sizes };
    // A failed read is not cached: the next scrape asks again.
    sizes.catch(() => (cached = null));
    return sizes;
  }
  const collect = async (apply: (sizes: Sizes) => void) => {
    try {
      apply(await read());
    } catch {
      // The database is unreachable: /health/ready says so; the metrics keep their last values.
    }
  };
  new Gauge({
    name: 'cascade_table_rows',
    help: 'Estimated rows per table (pg_class.reltuples).',
    labelNames: ['table'],
    registers: [registry],
    async collect() {
      await collect((s) => s.tables.forEach((t) => this.set({ table: t.name }, t.rows)));
    },
  });
  new Gauge({
    name: 'cascade_table_bytes',
    help: 'Bytes per table, indexes and TOAST included (pg_total_relation_size).',
    labelNames: ['table'],
    registers: [registry],
    async collect() {
      await collect((s) => s.tables.forEach((t) => this.set({ table: t.name }, t.bytes)));
    },
  });
  new Gauge({
    name: 'cascade_outbox_parked',
    help: 'Outbox rows the broker refused for good (e.g. larger than the topic accepts): never sent until an operator releases them.',
    registers: [registry],
    async collect() {
      await collect((s) => this.set(s.parked));
    },
  });
  new Gauge({
    name: 'cascade_outbox_pending',
    help: 'Outbox rows committed but not yet published (parked rows excluded).',
    registers: [registry],
    async collect() {
      await collect((s) => this.set(s.pending));
    },
  });
}
