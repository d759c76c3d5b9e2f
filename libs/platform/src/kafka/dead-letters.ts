import { normaliseText } from '#contracts';
import type { DataSource, EntityManager } from 'typeorm';

/** The headers of a dead-letter message: where the original bytes came from and why they were refused. */
export const DLQ_HEADERS = {
  reason: 'dlq-reason',
  path: 'dlq-path',
  eventId: 'dlq-event-id',
  originalTopic: 'dlq-original-topic',
  originalPartition: 'dlq-original-partition',
  originalOffset: 'dlq-original-offset',
  consumerGroup: 'dlq-consumer-group',
  at: 'dlq-at',
} as const;

/** One dead-lettered message, as `dead_letters` records it. */
export interface DeadLetterRecord {
  consumerGroup: string;
  /** The physical source topic (prefix included). */
  topic: string;
  partition: number;
  offset: string;
  eventId: string | null;
  requestId: string | null;
  promptVersion: string | null;
  reason: string;
  path: string;
  dlqTopic: string;
}

export interface RequestIdentity {
  requestId: string | null;
  promptVersion: string | null;
}

const MAX_ID_CHARS = 200;

function asId(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? normaliseText(value).slice(0, MAX_ID_CHARS) : null;
}

/**
 * The request a refused message concerns, read from its raw JSON whatever else is wrong with it:
 * `payload.requestId` (pr.ingested), or the first request metadata of the other events
 * (`payload.requests[]`, `payload.results[].request`, `payload.failures[].request`, `payload.resolved[].request`).
 */
export function requestIdentityOf(value: Buffer | null | undefined): RequestIdentity {
  const none = { requestId: null, promptVersion: null };
  if (!value || value.byteLength === 0) return none;
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    return none;
  }
  const payload = (json as { payload?: unknown } | null)?.payload;
  if (typeof payload !== 'object' || payload === null) return none;
  const top = payload as Record<string, unknown>;
  if (asId(top.requestId)) return { requestId: asId(top.requestId), promptVersion: asId(top.promptVersion) };
  for (const list of ['requests', 'results', 'failures', 'resolved']) {
    const first: unknown = Array.isArray(top[list]) ? (top[list] as unknown[])[0] : undefined;
    if (typeof first !== 'object' || first === null) continue;
    const request = (list === 'requests' ? first : (first as { request?: unknown }).request) as Record<string, unknown> | undefined;
    if (request && asId(request.requestId)) {
      return { requestId: asId(request.requestId), promptVersion: asId(request.promptVersion) ?? asId(top.promptVersion) };
    }
  }
  return none;
}

/**
 * Records dead letters; a message dead-lettered again (redelivered before its offset was committed)
 * keeps its first row. Every text is normalised: the raw values are often why the message was refused.
 */
export async function recordDeadLetters(db: DataSource | EntityManager, records: DeadLetterRecord[]): Promise<void> {
  if (records.length === 0) return;
  const column = (pick: (r: DeadLetterRecord) => string | null) => records.map((r) => {
    const value = pick(r);
    return value === null ? null : normaliseText(value);
  });
  await db.query(
    `INSERT INTO dead_letters (consumer_group, topic, partition, message_offset, event_id, request_id, prompt_version, reason, path, dlq_topic)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
     ON CONFLICT (consumer_group, topic, partition, message_offset) DO NOTHING`,
    [
      column((r) => r.consumerGroup),
      column((r) => r.topic),
      records.map((r) => r.partition),
      records.map((r) => r.offset),
      column((r) => r.eventId),
      column((r) => r.requestId),
      column((r) => r.promptVersion),
      column((r) => r.reason.slice(0, 2_000)),
      column((r) => r.path.slice(0, 500)),
      column((r) => r.dlqTopic),
    ],
  );
}
