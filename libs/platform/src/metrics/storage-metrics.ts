import { Gauge, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { METRICS, promConfig } from './metric-catalogue.js';
import { cachedRead, collectFrom } from './scrape-cache.js';

/** The tables that grow with traffic: each must be pruned or bounded by the work it records. */
export const MEASURED_TABLES = ['outbox', 'processed_events', 'requests', 'request_inputs', 'results', 'batches', 'batch_items', 'dead_letters'] as const;

/**
 * `cascade_table_rows{table}` (the planner's estimate, `pg_class.reltuples`: free to read, refreshed by
 * autovacuum/ANALYZE) and `cascade_table_bytes{table}` (heap, indexes and TOAST), read at scrape time and
 * cached briefly; `cascade_outbox_pending`, `cascade_outbox_parked` and `cascade_dead_letters_waiting` are counted
 * through their partial indexes. Every replica of every service reads the same figures: combine them with max().
 */
export function registerStorageMetrics(registry: Registry, dataSource: DataSource, cacheMs = 5_000): void {
  interface Sizes {
    tables: Array<{ name: string; rows: number; bytes: number }>;
    pending: number;
    parked: number;
    deadLettersWaiting: number;
  }
  const read = cachedRead(async (): Promise<Sizes> => {
    const tables: Array<{ name: string; rows: string; bytes: string }> = await dataSource.query(
      `SELECT c.relname AS name, greatest(c.reltuples, 0)::bigint AS rows, pg_total_relation_size(c.oid) AS bytes
       FROM pg_class c WHERE c.oid IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)`,
      [[...MEASURED_TABLES]],
    );
    const [backlog]: Array<{ pending: string; parked: string; waiting: string }> = await dataSource.query(
      `SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_reason IS NULL) AS pending,
              (SELECT count(*) FROM outbox WHERE parked_reason IS NOT NULL) AS parked,
              (SELECT count(*) FROM dead_letters WHERE redriven_at IS NULL) AS waiting`,
    );
    return {
      tables: tables.map((t) => ({ name: t.name, rows: Number(t.rows), bytes: Number(t.bytes) })),
      pending: Number(backlog!.pending),
      parked: Number(backlog!.parked),
      deadLettersWaiting: Number(backlog!.waiting),
    };
  }, cacheMs);
  const collect = collectFrom(read);
  new Gauge({
    ...promConfig(METRICS.tableRows),
    registers: [registry],
    async collect() {
      await collect((s) => s.tables.forEach((t) => this.set({ table: t.name }, t.rows)));
    },
  });
  new Gauge({
    ...promConfig(METRICS.tableBytes),
    registers: [registry],
    async collect() {
      await collect((s) => s.tables.forEach((t) => this.set({ table: t.name }, t.bytes)));
    },
  });
  new Gauge({
    ...promConfig(METRICS.outboxParked),
    registers: [registry],
    async collect() {
      await collect((s) => this.set(s.parked));
    },
  });
  new Gauge({
    ...promConfig(METRICS.outboxPending),
    registers: [registry],
    async collect() {
      await collect((s) => this.set(s.pending));
    },
  });
  new Gauge({
    ...promConfig(METRICS.deadLettersWaiting),
    registers: [registry],
    async collect() {
      await collect((s) => this.set(s.deadLettersWaiting));
    },
  });
}
