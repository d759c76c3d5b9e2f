import { DEFAULT_PRICE_TABLE, priceOf } from '#groq-batch';
import type { DataSource } from 'typeorm';

export interface Spread {
  count: number;
  median: number;
  p99: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
  return { count: sorted.length, median: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}

/** One finished batch with its timestamps in ms since the epoch (DB clock and the provider watch). */
export interface BatchTimes {
  batchId: string;
  providerBatchId: string;
  pass: number;
  requests: number;
  oldestIngested: number | null;
  /** For a pass ≥ 2 batch: when the retry-service recorded the last failure that fed it. */
  lastFailureRecorded: number | null;
  /** When the poller recorded the previous batch of those failures finished. */
  previousFinished: number | null;
  created: number;
  submitted: number;
  providerCompleted: number | null;
  finished: number;
  /** ResultsMerged for the last request this batch settled (succeeded, or failed for good). */
  lastMerged: number | null;
  settled: number;
}

const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;

export async function batchTimes(dataSource: DataSource, providerCompleted: Map<string, number>): Promise<BatchTimes[]> {
  const rows: Array<Omit<BatchTimes, 'providerCompleted'>> = await dataSource.query(
    `WITH settled AS (
       SELECT a.batch_id, max(r.resolved_at) AS last_merged, count(*)::int AS settled
         FROM results r JOIN attempts a ON a.request_id = r.request_id AND a.prompt_version = r.prompt_version AND a.attempt = r.attempt
        WHERE r.status IN ('succeeded', 'failed')
        GROUP BY a.batch_id),
     fed AS (
       SELECT bi.batch_id, max(prev.recorded_at) AS last_failure, max(pb.finished_at) AS previous_finished
         FROM batch_items bi
         JOIN attempts prev ON prev.request_id = bi.request_id AND prev.prompt_version = bi.prompt_version AND prev.attempt = bi.attempt - 1
         JOIN batches pb ON pb.batch_id = prev.batch_id
        GROUP BY bi.batch_id),
     ingested AS (
       SELECT bi.batch_id, min(rq.ingested_at) AS oldest
         FROM batch_items bi JOIN requests rq ON rq.request_id = bi.request_id AND rq.prompt_version = bi.prompt_version
        GROUP BY bi.batch_id)
     SELECT b.batch_id AS "batchId", b.provider_batch_id AS "providerBatchId", b.pass, b.request_count AS requests,
            ${ms('i.oldest')} AS "oldestIngested", ${ms('f.last_failure')} AS "lastFailureRecorded",
            ${ms('f.previous_finished')} AS "previousFinished",
            ${ms('b.created_at')} AS created, ${ms('b.submitted_at')} AS submitted, ${ms('b.finished_at')} AS finished,
            ${ms('s.last_merged')} AS "lastMerged", COALESCE(s.settled, 0) AS settled
       FROM batches b
       LEFT JOIN settled s ON s.batch_id = b.batch_id
       LEFT JOIN fed f ON f.batch_id = b.batch_id
       LEFT JOIN ingested i ON i.batch_id = b.batch_id
      WHERE b.state = 'finished'
      ORDER BY b.created_at`,
  );
  return rows.map((row) => ({ ...row, providerCompleted: providerCompleted.get(row.providerBatchId) ?? null }));
}

/** Wall-clock milestones of the run, in ms since the epoch (DB clock). */
export async function milestones(dataSource: DataSource): Promise<Record<string, number | null>> {
  const [row] = await dataSource.query(
    `SELECT ${ms('(SELECT min(ingested_at) FROM requests)')} AS "first ingested",
            ${ms('(SELECT max(ingested_at) FROM requests)')} AS "last ingested",
            ${ms("(SELECT max(submitted_at) FROM batches WHERE pass = 1)")} AS "last pass-1 batch submitted",
            ${ms("(SELECT max(finished_at) FROM batches WHERE pass = 1)")} AS "last pass-1 batch finished",
            ${ms("(SELECT max(recorded_at) FROM attempts WHERE outcome = 'failed')")} AS "last failure recorded",
            ${ms("(SELECT min(created_at) FROM batches WHERE pass >= 2)")} AS "first retry batch formed",
            ${ms("(SELECT max(submitted_at) FROM batches WHERE pass >= 2)")} AS "last retry batch submitted",
            ${ms("(SELECT max(finished_at) FROM batches WHERE pass >= 2)")} AS "last retry batch finished",
            ${ms('(SELECT max(resolved_at) FROM results)')} AS "last result merged"`,
  );
  return row as Record<string, number | null>;
}

export interface CostFigures {
  ingested: number;
  processable: number;
  succeeded: number;
  answeredByCheap: number;
  answeredByStrong: number;
  failedCheapAttempts: Array<{ code: string; count: number }>;
  /** What the provider bills for the run: every finished batch's cost (answered + failed attempts + estimated). */
  cascadeUsd: number;
  answeredUsd: number;
  /** Failed lines that reported usage. */
  failedAttemptsUsd: number;
  /** Billed failed lines without usage: prompt and completion tokens estimated (see the report's cost basis). */
  estimatedUsd: number;
  estimatedLines: number;
  /** Cheap cost for the requests the cheap model answers, strong cost for the rest, no wasted attempt. */
  oracleUsd: number;
  /**
   * Every request once on the strong model, billed: the prompt tokens of every first-pass line (known or
   * estimated; the first pass sends each request once) plus the strong model's mean completion per line.
   */
  alwaysStrongUsd: number;
  /** The run report's figure: the first-pass lines' billed tokens, reasoning included, at the strong price. */
  alwaysStrongSameTokensUsd: number;
  strongCompletionMean: number;
  strongCompletionSamples: number;
}

/**
 * Cost of the run against an oracle and against always-strong, from the token counts recorded in
 * `results` and the costs recorded in `batches`, priced with the project's price table.
 */
export async function costFigures(dataSource: DataSource, cheapModel: string, strongModel: string): Promise<CostFigures> {
  const strong = priceOf(DEFAULT_PRICE_TABLE, strongModel);
  const [counts] = await dataSource.query(
    `SELECT (SELECT count(*) FROM requests)::int AS ingested,
            (SELECT count(*) FROM requests WHERE status <> 'excluded')::int AS processable,
            (SELECT COALESCE(sum(cost_usd), 0) FROM batches WHERE state = 'finished')::float8 AS "cascadeUsd"`,
  );
  const [billed] = await dataSource.query(
    `SELECT COALESCE(sum(answered_cost_usd), 0)::float8 AS answered, COALESCE(sum(failed_cost_usd), 0)::float8 AS failed,
            COALESCE(sum(estimated_cost_usd), 0)::float8 AS estimated, COALESCE(sum(estimated_lines), 0)::int AS "estimatedLines"
       FROM batches WHERE state = 'finished'`,
  );
  const [firstPass] = await dataSource.query(
    `SELECT COALESCE(sum(answered_lines + failed_lines + estimated_lines), 0)::float8 AS lines,
            COALESCE(sum(answered_prompt_tokens + failed_prompt_tokens + estimated_prompt_tokens), 0)::float8 AS prompt,
            COALESCE(sum(answered_completion_tokens + failed_completion_tokens + estimated_completion_tokens), 0)::float8 AS completion
       FROM batches WHERE state = 'finished' AND pass = 1`,
  );
  const byModel: Array<{ model: string; results: number; prompt: number; completion: number; usd: number }> = (
    await dataSource.query(
      `SELECT model, count(*)::int AS results, sum(prompt_tokens)::float8 AS prompt, sum(completion_tokens)::float8 AS completion,
              sum(cost_usd)::float8 AS usd
         FROM results WHERE status = 'succeeded' AND attempt > 0 GROUP BY model`,
    )
  ).map((row: Record<string, unknown>) => ({ model: String(row.model), results: Number(row.results), prompt: Number(row.prompt), completion: Number(row.completion), usd: Number(row.usd) }));
  const failedCheapAttempts: Array<{ code: string; count: number }> = await dataSource.query(
    `SELECT code, count(*)::int AS count FROM attempts WHERE outcome = 'failed' AND model = $1 GROUP BY code ORDER BY count DESC`,
    [cheapModel],
  );
  const onCheap = byModel.find((m) => m.model === cheapModel);
  const onStrong = byModel.find((m) => m.model === strongModel);
  const succeeded = byModel.reduce((sum, m) => sum + m.results, 0);
  // The oracle pays, for each answered request, exactly its final successful attempt: what `results` records.
  const oracleUsd = byModel.reduce((sum, m) => sum + m.usd, 0);
  // The strong model does not reason before answering: its completions are shorter than the cheap model's.
  const strongCompletionMean = onStrong && onStrong.results > 0 ? onStrong.completion / onStrong.results : onCheap ? onCheap.completion / onCheap.results : 0;
  const alwaysStrongUsd = (Number(firstPass.prompt) * strong.inputPerMillion + Number(firstPass.lines) * strongCompletionMean * strong.outputPerMillion) / 1e6;
  const alwaysStrongSameTokensUsd = (Number(firstPass.prompt) * strong.inputPerMillion + Number(firstPass.completion) * strong.outputPerMillion) / 1e6;
  return {
    ingested: counts.ingested,
    processable: counts.processable,
    succeeded,
    answeredByCheap: onCheap?.results ?? 0,
    answeredByStrong: onStrong?.results ?? 0,
    failedCheapAttempts,
    cascadeUsd: Number(counts.cascadeUsd),
    answeredUsd: Number(billed.answered),
    failedAttemptsUsd: Number(billed.failed),
    estimatedUsd: Number(billed.estimated),
    estimatedLines: Number(billed.estimatedLines),
    oracleUsd,
    alwaysStrongUsd,
    alwaysStrongSameTokensUsd,
    strongCompletionMean,
    strongCompletionSamples: onStrong?.results ?? 0,
  };
}

/** One table of the pipeline's database after a run. */
export interface TableFigures {
  table: string;
  rows: number;
  /** `pg_total_relation_size`: heap, indexes and TOAST, dead row versions included until a vacuum reuses them. */
  bytes: number;
  /** Rows inserted, updated and deleted over the database's life (`pg_stat_user_tables`). */
  inserted: number;
  updated: number;
  deleted: number;
}

export interface StorageFigures {
  tables: TableFigures[];
  /** `pg_database_size`: the tables plus the catalog and the rest of an empty database. */
  databaseBytes: number;
}

/**
 * Every table of the database's public schema (the pipeline's tables, the migrations' own included; the
 * floor's table is gone by then), largest first. Read once the services have stopped: a backend reports its
 * row counters when its connection closes.
 */
export async function storageFigures(dataSource: DataSource): Promise<StorageFigures> {
  const stats: Array<Omit<TableFigures, 'rows'>> = await dataSource.query(
    `SELECT relname AS "table", pg_total_relation_size(relid)::float8 AS bytes, n_tup_ins::float8 AS inserted,
            n_tup_upd::float8 AS updated, n_tup_del::float8 AS deleted
       FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY pg_total_relation_size(relid) DESC, relname`,
  );
  const tables: TableFigures[] = [];
  for (const table of stats) {
    const [{ rows }] = await dataSource.query(`SELECT count(*)::float8 AS rows FROM "${table.table}"`);
    tables.push({ ...table, rows: Number(rows), bytes: Number(table.bytes), inserted: Number(table.inserted), updated: Number(table.updated), deleted: Number(table.deleted) });
  }
  const [{ bytes }] = await dataSource.query('SELECT pg_database_size(current_database())::float8 AS bytes');
  return { tables, databaseBytes: Number(bytes) };
}

/**
 * Rewrites the tables without their dead row versions (`VACUUM FULL`; it locks each table, so the services must be
 * stopped): what the live rows take, the floor a vacuumed table comes back to.
 */
export async function compactTables(dataSource: DataSource, tables: TableFigures[]): Promise<void> {
  if (tables.length > 0) await dataSource.query(`VACUUM FULL ${tables.map((t) => `"${t.table}"`).join(', ')}`);
}

/** Events one topic received from the services' outboxes over the run. */
export interface PublishedFigures {
  topic: string;
  messages: number;
  /** Message values only (keys and headers apart). */
  bytes: number;
}

/** What the services published, per topic, from the outbox (read before its retention deletes anything: 24 h by default). */
export async function publishedFigures(dataSource: DataSource): Promise<PublishedFigures[]> {
  const rows: Array<{ topic: string; messages: number; bytes: number }> = await dataSource.query(
    `SELECT topic, count(*)::float8 AS messages, sum(octet_length(message_value))::float8 AS bytes FROM outbox GROUP BY topic ORDER BY bytes DESC`,
  );
  return rows.map((row) => ({ topic: row.topic, messages: Number(row.messages), bytes: Number(row.bytes) }));
}
