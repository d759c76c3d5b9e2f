import type { EventEnvelope, Topic, TopicPayloads } from '#contracts';
import { context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { crashPoint } from '../faults/crash-point.js';
import { activeTraceparent, headersWithSpan, isSampled, ServiceTracer, spanContextOf, tracingEnabled } from '../tracing/tracing.js';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import type { EventPublisher, OutgoingMessage } from './event-publisher.service.js';
import { isMessageTooLarge, type TopicLimits } from './topic-limits.js';

/** Room for a record's framing next to its key, value and headers, and for a record batch's header. */
const RECORD_OVERHEAD_BYTES = 128;
const BATCH_OVERHEAD_BYTES = 128;

interface PendingRow {
  id: string;
  event_id: string;
  topic: string;
  bytes: string;
}

interface OutboxRow {
  id: string;
  topic: string;
  message_key: string;
  message_value: Buffer;
  headers: Record<string, string>;
  traceparent: string | null;
}

/**
 * Writes outgoing events in the same transaction as the state change that caused them, each with the
 * traceparent of the span that wrote it (the relay sends it later, from no span of the writer's).
 */
export class OutboxRepository {
  constructor(private readonly publisher: EventPublisher) {}

  async enqueue<T extends Topic>(manager: EntityManager, topic: T, event: EventEnvelope<TopicPayloads[T]>): Promise<void> {
    const message = this.publisher.encode(topic, event);
    await manager.query(
      `INSERT INTO outbox (event_id, topic, message_key, message_value, headers, traceparent)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`,
      [event.eventId, message.topic, message.key ?? '', message.value, JSON.stringify(message.headers), activeTraceparent()],
    );
  }
}

/** Ends the publish spans of a send, marked failed when the send threw. */
function endSpans(spans: Span[], error?: unknown): void {
  for (const span of spans) {
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    span.end();
  }
}

/**
 * Publishes committed outbox rows in id order. Rows are claimed with SKIP LOCKED so replicas share
 * the work, and marked published only after the broker acknowledged them: at-least-once, and
 * consumers drop the duplicates by eventId. A send carries no more per topic than the topic's
 * `max.message.bytes`; a row the broker still refuses as too large is parked with the reason (never
 * sent, never deleted) so that the rows behind it move on.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly publisher: EventPublisher,
    private readonly limits: TopicLimits,
    private readonly logger: Logger,
    private readonly pollMs: number,
    private readonly tracer = new ServiceTracer('outbox-relay'),
    private readonly batchSize = 500,
    private readonly maxBytes = 4 * 1024 * 1024,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Ask for a relay pass now (after a commit), without waiting for the next poll. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    // A pass belongs to no handler: kicked from inside one, it would otherwise run (and every pass after it,
    // each scheduled from the last) in that handler's trace context.
    this.timer = setTimeout(context.bind(ROOT_CONTEXT, () => {
      this.timer = null;
      this.running = this.drain()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.warn({ err: error }, 'outbox relay pass failed; will retry'))
        .finally(() => {
          this.running = null;
          const next = this.again ? 0 : this.pollMs;
          this.again = false;
          this.schedule(next);
        });
    }), delayMs);
  }

  /** Publishes until nothing is pending; returns how many rows it published. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const pass = await this.dataSource.transaction(async (manager) => {
        // Sizes first, values second: a pass carries at most `maxBytes` of values, and no more per topic
        // than the topic accepts (always at least one row). A large batch's results are dozens of ~1 MB
        // events; reading and sending them all at once cost the poller ~80 MB of buffers.
        const pending: PendingRow[] = await manager.query(
          `SELECT id, event_id, topic, octet_length(message_value) + octet_length(message_key) + octet_length(headers::text) AS bytes
           FROM outbox WHERE published_at IS NULL AND parked_reason IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [this.batchSize],
        );
        const chosen = await this.fitToLimits(pending);
        if (chosen.length === 0) return { published: 0, more: false };
        const rows: OutboxRow[] = await manager.query(
          `SELECT id, topic, message_key, message_value, headers, traceparent FROM outbox WHERE id = ANY($1::bigint[]) ORDER BY id`,
          [chosen.map((row) => row.id)],
        );
        const spans: Span[] = [];
        const messages = new Map(rows.map((row): [string, OutgoingMessage] => [row.id, this.messageOf(row, spans)]));
        let sent: string[];
        try {
          sent = await this.send(manager, chosen, messages);
        } catch (error) {
          endSpans(spans, error);
          throw error;
        }
        endSpans(spans);
        crashPoint('outbox:after-send');
        await manager.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [sent]);
        return { published: sent.length, more: chosen.length < pending.length || pending.length === this.batchSize };
      });
      total += pass.published;
      if (!pass.more) return total;
    }
  }

  /**
   * The message of a row, its trace context in the headers: a `publish` span child of the span that wrote
   * the row (collected in `spans`, ended once the broker answered), or, with tracing off here or a writer's
   * trace not sampled, the stored traceparent as it is, so that a consumer still continues the writer's trace
   * (and its sampling decision).
   */
  private messageOf(row: OutboxRow, spans: Span[]): OutgoingMessage {
    const message = { topic: row.topic, key: row.message_key, value: row.message_value, headers: row.headers };
    const writer = spanContextOf(row.traceparent);
    if (!writer) return message;
    if (!tracingEnabled() || !isSampled(writer)) return { ...message, headers: { ...row.headers, traceparent: row.traceparent! } };
    const span = this.tracer.startSpan(`${row.topic} publish`, {
      kind: SpanKind.PRODUCER,
      parent: trace.setSpanContext(ROOT_CONTEXT, writer),
      attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'send', 'messaging.destination.name': row.topic },
    });
    spans.push(span);
    return { ...message, headers: headersWithSpan(row.headers, span) };
  }

  /** The longest prefix of `pending` that fits in one send. */
  private async fitToLimits(pending: PendingRow[]): Promise<PendingRow[]> {
    const limits = await this.limits.maxMessageBytes(pending.map((row) => row.topic));
    const perTopic = new Map<string, number>();
    let total = 0;
    const chosen: PendingRow[] = [];
    for (const row of pending) {
      const bytes = Number(row.bytes) + RECORD_OVERHEAD_BYTES;
      const topicBytes = (perTopic.get(row.topic) ?? BATCH_OVERHEAD_BYTES) + bytes;
      if (chosen.length > 0 && (total + bytes > this.maxBytes || topicBytes > limits.get(row.topic)!)) break;
      chosen.push(row);
      perTopic.set(row.topic, topicBytes);
      total += bytes;
    }
    return chosen;
  }

  /**
   * Sends `chosen` at once; if the broker refuses the send as too large, one row at a time, parking each
   * row it refuses alone. Returns the ids the broker acknowledged.
   */
  private async send(manager: EntityManager, chosen: PendingRow[], messages: Map<string, OutgoingMessage>): Promise<string[]> {
    const ids = chosen.map((row) => row.id);
    try {
      await this.publisher.send(ids.map((id) => messages.get(id)!));
      return ids;
    } catch (error) {
      if (!isMessageTooLarge(error)) throw error;
      if (chosen.length === 1) {
        await this.park(manager, chosen[0]!, error);
        return [];
      }
    }
    const sent: string[] = [];
    for (const row of chosen) {
      try {
        await this.publisher.send([messages.get(row.id)!]);
        sent.push(row.id);
      } catch (error) {
        if (!isMessageTooLarge(error)) throw error;
        await this.park(manager, row, error);
      }
    }
    return sent;
  }

  private async park(manager: EntityManager, row: PendingRow, error: unknown): Promise<void> {
    const limit = (await this.limits.maxMessageBytes([row.topic])).get(row.topic);
    const reason = `refused by the broker as too large: ${row.bytes} bytes, topic max.message.bytes ${limit} (${(error as Error).message})`;
    await manager.query('UPDATE outbox SET parked_reason = $2 WHERE id = $1', [row.id, reason]);
    this.logger.error(
      { topic: row.topic, eventId: row.event_id, outboxId: row.id, bytes: Number(row.bytes), maxMessageBytes: limit },
      'outbox row parked: the broker refuses it as too large; raise the topic max.message.bytes, then clear its parked_reason',
    );
  }

  /** Stops polling and publishes whatever is still pending (called on shutdown, after consumers stopped). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.drain().catch((error: unknown) =>
      this.logger.warn({ err: error }, 'outbox not fully drained at shutdown; the next start publishes the rest'),
    );
  }
}
