import { type DeadLetterRecord, returnedRows } from '#platform';
import type { EntityManager } from 'typeorm';

/** One row of `dead_letters`: what was refused, where it came from and why (never the message itself). */
export interface DeadLetter extends DeadLetterRecord {
  deadLetteredAt: string;
  redrivenAt: string | null;
}

export interface DeadLetterFilter {
  /** Physical source topics (prefix included). */
  topics?: string[];
  requestId?: string;
  /** Only those not yet re-driven. */
  pendingOnly?: boolean;
  /** Newest first; without it, every match (oldest first, as a re-drive publishes them). */
  limit?: number;
}

export interface DeadLetterSummary {
  total: number;
  notRedriven: number;
  byReason: Array<{ topic: string; reason: string; count: number; notRedriven: number }>;
  /**
   * Ids the invariant counts as `dead_lettered`: dead-lettered and with no row in `requests` (a
   * pr.ingested event without a prompt version is counted at the default one). Listed up to `listLimit`.
   */
  unstoredCount: number;
  unstored: Array<{ requestId: string; promptVersion: string }>;
}

const COLUMNS = `consumer_group AS "consumerGroup", topic, partition, message_offset::text AS "offset", event_id AS "eventId",
  request_id AS "requestId", prompt_version AS "promptVersion", reason, path, dlq_topic AS "dlqTopic",
  to_char(dead_lettered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "deadLetteredAt",
  to_char(redriven_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "redrivenAt"`;

export async function listDeadLetters(manager: EntityManager, filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
  const newestFirst = filter.limit !== undefined;
  return manager.query(
    `SELECT ${COLUMNS} FROM dead_letters
      WHERE ($1::text[] IS NULL OR topic = ANY($1::text[]))
        AND ($2::text IS NULL OR request_id = $2)
        AND (NOT $3::boolean OR redriven_at IS NULL)
      ORDER BY dead_lettered_at ${newestFirst ? 'DESC' : 'ASC'}, topic, partition, message_offset
      LIMIT $4`,
    [filter.topics ?? null, filter.requestId ?? null, filter.pendingOnly ?? false, filter.limit ?? null],
  );
}

/** Marks the dead letters of these source messages re-driven (every consumer group's row of each). */
export async function markRedriven(manager: EntityManager, sources: Array<{ topic: string; partition: number; offset: string }>): Promise<number> {
  if (sources.length === 0) return 0;
  const result: unknown = await manager.query(
    `UPDATE dead_letters d SET redriven_at = now()
       FROM unnest($1::text[], $2::int[], $3::bigint[]) AS s(topic, partition, message_offset)
      WHERE d.topic = s.topic AND d.partition = s.partition AND d.message_offset = s.message_offset AND d.redriven_at IS NULL
      RETURNING 1`,
    [sources.map((s) => s.topic), sources.map((s) => s.partition), sources.map((s) => s.offset)],
  );
  return returnedRows(result).length;
}

/** Dead-lettered (request id, prompt version) with no stored request: `$1` is the default prompt version. */
const UNSTORED_SQL = `
  SELECT DISTINCT d.request_id AS "requestId", coalesce(d.prompt_version, $1) AS "promptVersion"
    FROM dead_letters d
   WHERE d.request_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.request_id = d.request_id AND r.prompt_version = coalesce(d.prompt_version, $1))`;

/** How many ids the invariant counts as `dead_lettered`: refused after their id was read, and not stored since. */
export async function unstoredDeadLetterCount(manager: EntityManager, defaultPromptVersion: string): Promise<number> {
  const [{ count }] = await manager.query(`SELECT count(*)::int AS count FROM (${UNSTORED_SQL}) u`, [defaultPromptVersion]);
  return count;
}

export async function deadLetterSummary(
  manager: EntityManager,
  options: { defaultPromptVersion: string; listLimit?: number },
): Promise<DeadLetterSummary> {
  const [totals] = await manager.query(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE redriven_at IS NULL)::int AS "notRedriven" FROM dead_letters`,
  );
  const byReason = await manager.query(
    `SELECT topic, reason, count(*)::int AS count, count(*) FILTER (WHERE redriven_at IS NULL)::int AS "notRedriven"
       FROM dead_letters GROUP BY topic, reason ORDER BY count(*) DESC, topic, reason`,
  );
  const count = await unstoredDeadLetterCount(manager, options.defaultPromptVersion);
  const unstored = await manager.query(`${UNSTORED_SQL} ORDER BY 1, 2 LIMIT $2`, [options.defaultPromptVersion, options.listLimit ?? 1_000]);
  return { total: totals.total, notRedriven: totals.notRedriven, byReason, unstoredCount: count, unstored };
}
