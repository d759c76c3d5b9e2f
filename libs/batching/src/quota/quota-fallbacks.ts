import type { EntityManager } from 'typeorm';

/** Requests a quota or budget moved from one model to the next (QUOTA_FALLBACK=next-model), grouped by move and cause. */
export interface QuotaFallbackSummary {
  fromModel: string;
  toModel: string;
  kind: string;
  requests: number;
  lastAt: string;
  lastReason: string;
}

/** The moves of the last `hours` (default a day), newest first, for `cascade status`. */
export async function recentQuotaFallbacks(manager: EntityManager, hours = 24): Promise<QuotaFallbackSummary[]> {
  const rows: Array<{ from_model: string; to_model: string; kind: string; requests: number; last_at: Date; last_reason: string }> = await manager.query(
    `SELECT from_model, to_model, kind, count(*)::int AS requests, max(decided_at) AS last_at,
            (array_agg(reason ORDER BY decided_at DESC))[1] AS last_reason
       FROM quota_fallbacks WHERE decided_at > now() - make_interval(hours => $1)
      GROUP BY from_model, to_model, kind ORDER BY max(decided_at) DESC`,
    [hours],
  );
  return rows.map((row) => ({
    fromModel: row.from_model,
    toModel: row.to_model,
    kind: row.kind,
    requests: row.requests,
    lastAt: new Date(row.last_at).toISOString(),
    lastReason: row.last_reason,
  }));
}

/** One line per move, as `cascade status` prints it. */
export function quotaFallbackText(summary: QuotaFallbackSummary): string {
  return `quota fallback (last 24 h): ${summary.requests} request(s) moved ${summary.fromModel} → ${summary.toModel} (${summary.kind}), last at ${summary.lastAt}: ${summary.lastReason}`;
}
