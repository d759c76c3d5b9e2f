import type { EntityManager } from 'typeorm';

export interface CacheStats {
  ttlHours: number;
  clearedAt: string | null;
  /** Lookups answered from an earlier identical analysis, and lookups that went to the provider. */
  hits: number;
  misses: number;
  hitRate: number;
  /** Distinct (content, prompt version) answers still usable, and the bytes of their analyses. */
  entries: number;
  bytes: number;
}

/** The response cache's statistics, from the requests' cache flags and the results still within the TTL. */
export async function cacheStats(manager: EntityManager, ttlHours: number): Promise<CacheStats> {
  const [lookups] = await manager.query(
    `SELECT count(*) FILTER (WHERE flags->>'cache' = 'hit')::int AS hits,
            count(*) FILTER (WHERE flags->>'cache' = 'miss')::int AS misses
     FROM requests`,
  );
  const [control] = await manager.query(`SELECT value->>'clearedAt' AS "clearedAt" FROM control_state WHERE key = 'cache'`);
  const clearedAt: string | null = control?.clearedAt ?? null;
  const [entries] = await manager.query(
    `SELECT count(DISTINCT (content_hash, prompt_version))::int AS entries, coalesce(sum(pg_column_size(analysis)), 0)::bigint AS bytes
     FROM results
     WHERE status = 'succeeded' AND attempt > 0
       AND resolved_at >= greatest(now() - make_interval(hours => $1::int), coalesce($2::timestamptz, '-infinity'))`,
    [ttlHours, clearedAt],
  );
  const hits = Number(lookups.hits);
  const misses = Number(lookups.misses);
  return {
    ttlHours,
    clearedAt,
    hits,
    misses,
    hitRate: hits + misses ? hits / (hits + misses) : 0,
    entries: Number(entries.entries),
    bytes: Number(entries.bytes),
  };
}

/**
 * Everything Cascade knows about one request id, across prompt versions and passes: its state, each
 * batch it was in (pass, model, provider batch), each attempt's outcome and error, and its result.
 * The PR text is left out unless asked for (`OPS_SHOW_PR_TEXT`): it is untrusted input and may be
 * confidential. The model's `summary` and `ai_evidence` paraphrase and quote it, so they count as PR text
 * too (the rest of the analysis — type, risk, tools, confidence — stays).
 */
export async function requestHistory(manager: EntityManager, requestId: string, options: { includePrText?: boolean } = {}) {
  const requests = await manager.query(
    `SELECT r.request_id AS "requestId", CASE WHEN $2::boolean THEN i.pr END AS pr, r.prompt_version AS "promptVersion", correlation_id AS "correlationId", team, repo,
            pr_number AS "prNumber", content_hash AS "contentHash", status, stage, exclusion_reason AS "exclusionReason",
            attempt, pass, model, current_batch_id AS "currentBatchId", flags, ingested_at AS "ingestedAt", updated_at AS "updatedAt",
            stage_deadline_at AS "stageDeadlineAt", split_part(r.traceparent, '-', 2) AS "traceId"
     FROM requests r LEFT JOIN request_inputs i ON i.request_id = r.request_id AND i.prompt_version = r.prompt_version
     WHERE r.request_id = $1 ORDER BY ingested_at`,
    [requestId, options.includePrText ?? false],
  );
  if (requests.length === 0) return null;
  if (!options.includePrText) for (const row of requests) delete row.pr;
  const batches = await manager.query(
    `SELECT i.prompt_version AS "promptVersion", i.attempt, coalesce(i.outcome, 'pending') AS outcome, b.batch_id AS "batchId",
            b.provider_batch_id AS "providerBatchId", b.pass, b.model, b.state, b.provider_status AS "providerStatus",
            b.created_at AS "createdAt", b.finished_at AS "finishedAt"
     FROM batch_items i JOIN batches b ON b.batch_id = i.batch_id
     WHERE i.request_id = $1 ORDER BY b.created_at`,
    [requestId],
  );
  const attempts = await manager.query(
    `SELECT prompt_version AS "promptVersion", attempt, pass, model, batch_id AS "batchId", outcome, code, message,
            http_status AS "httpStatus", recorded_at AS "recordedAt"
     FROM attempts WHERE request_id = $1 ORDER BY prompt_version, attempt`,
    [requestId],
  );
  const results = await manager.query(
    `SELECT prompt_version AS "promptVersion", status, model, pass, attempt, prompt_tokens AS "promptTokens",
            completion_tokens AS "completionTokens", cost_usd::float8 AS "costUsd", error_code AS "errorCode",
            error_message AS "errorMessage", CASE WHEN $2::boolean THEN analysis ELSE analysis - ARRAY['summary', 'ai_evidence'] END AS analysis,
            resolved_at AS "resolvedAt"
     FROM results WHERE request_id = $1 ORDER BY prompt_version`,
    [requestId, options.includePrText ?? false],
  );
  // The trace of the newest text (each text is analysed, and traced, anew): look it up in the tracing backend.
  const traceId = [...requests].reverse().find((row: { traceId: string | null }) => row.traceId)?.traceId ?? null;
  return { requestId, traceId, requests, batches, attempts, results };
}
