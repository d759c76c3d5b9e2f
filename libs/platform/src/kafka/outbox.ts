import type { EventEnvelope, Topic, TopicPayloads } from '#contracts';
import { crashPoint } from '../faults/crash-point.js';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import type { EventPublisher, OutgoingMessage } from './event-publisher.service.js';

interface OutboxRow {
  id: string;
  topic: string;
  message_key: string;
  message_value: Buffer;
  headers: Record<string, string>;
}

/** Writes outgoing events in the same transaction as the state change that caused them. */
export class OutboxRepository {
  constructor(private readonly publisher: EventPublisher) {}

  async enqueue<T extends Topic>(manager: EntityManager, topic: T, event: EventEnvelope<TopicPayloads[T]>): Promise<void> {
    const message = this.publisher.encode(topic, event);
    await manager.query(
      `INSERT INTO outbox (event_id, topic, message_key, message_value, headers)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING`,
      [event.eventId, message.topic, message.key ?? '', message.value, JSON.stringify(message.headers)],
    );
  }
}

/**
 * Publishes committed outbox rows in id order. Rows are claimed with SKIP LOCKED so replicas share
 * the work, and marked published only after the broker acknowledged them: at-least-once, and
 * consumers drop the duplicates by eventId.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly publisher: EventPublisher,
    private readonly logger: Logger,
    private readonly pollMs: number,
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
    this.timer = setTimeout(() => {
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
    }, delayMs);
  }

  /** Publishes until nothing is pending; returns how many rows it published. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const pass = await this.dataSource.transaction(async (manager) => {
        // Sizes first, values second: a pass carries at most `maxBytes` of values (always at least one row).
        // A large batch's results are dozens of ~1 MB events; reading and sending them all at once cost
        // the poller ~80 MB of buffers (hex text from the driver, the values, the producer's request).
        const pending: Array<{ id: string; bytes: number }> = await manager.query(
          `SELECT id, octet_length(message_value) AS bytes FROM outbox
           WHERE published_at IS NULL AND parked_reason IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [this.batchSize],
        );
        let bytes = 0;
        const ids = pending
          .filter((row, index) => {
            bytes += Number(row.bytes);
            return index === 0 || bytes <= this.maxBytes;
          })
          .map((row) => row.id);
        if (ids.length === 0) return { published: 0, more: false };
        const rows: OutboxRow[] = await manager.query(
          `SELECT id, topic, message_key, message_value, headers FROM outbox WHERE id = ANY($1::bigint[]) ORDER BY id`,
          [ids],
        );
        const messages: OutgoingMessage[] = rows.map((row) => ({
          topic: row.topic,
          key: row.message_key,
          value: row.message_value,
          headers: row.headers,
        }));
        await this.publisher.send(messages);
        crashPoint('outbox:after-send');
        await manager.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [ids]);
        return { published: ids.length, more: ids.length < pending.length || pending.length === this.batchSize };
      });
      total += pass.published;
      if (!pass.more) return total;
    }
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
