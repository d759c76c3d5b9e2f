import { decodeEvent, type EventEnvelope, type Topic, type TopicPayloads } from '#contracts';
import { KafkaContext } from '@nestjs/microservices';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { inTransaction, isDatabaseUnavailable } from '../database/transaction.js';
import type { ConsumerMetrics } from '../metrics/consumer-metrics.js';
import type { EventPublisher } from './event-publisher.service.js';
import type { OutboxRelay } from './outbox.js';
import { withHeartbeat } from './keep-alive.js';
import { dlqTopicName } from './topic-names.js';

export type InboxOutcome = 'processed' | 'duplicate' | 'dead-lettered';

export interface InboundMessage {
  topic: string;
  partition: number;
  offset: string;
  value: Buffer | null;
  key: Buffer | string | null;
  headers: Record<string, unknown>;
  heartbeat: () => Promise<void>;
}

/** What a handler gets: the validated event and the transaction its effects must use. */
export type EventEffect<T extends Topic> = (event: EventEnvelope<TopicPayloads[T]>, manager: EntityManager) => Promise<void>;

/** Nest types handler arguments loosely; this checks the context really is Kafka's. */
export function fromKafkaContext(context: unknown, raw: unknown): InboundMessage {
  if (!(context instanceof KafkaContext)) throw new Error('expected a KafkaContext: is this handler bound to the Kafka transport?');
  const message = context.getMessage() as unknown as {
    offset: string;
    key: Buffer | string | null;
    headers?: Record<string, unknown>;
  };
  return {
    topic: context.getTopic(),
    partition: context.getPartition(),
    offset: message.offset,
    value: Buffer.isBuffer(raw) ? raw : null,
    key: message.key,
    headers: message.headers ?? {},
    heartbeat: context.getHeartbeat(),
  };
}

/**
 * The consumer's edge. Validates every message against its contract (an invalid one goes to
 * `<topic>.dlq` with its original bytes and the reason, and the partition moves on), runs the effect
 * at most once per eventId (the id is recorded in the same transaction as the effect), and retries
 * a failing effect a bounded number of times before dead-lettering it. A database outage is
 * rethrown instead: the message is redelivered once the database is back, never dead-lettered.
 */
export class EventInbox {
  constructor(
    private readonly dataSource: DataSource,
    private readonly publisher: EventPublisher,
    private readonly relay: OutboxRelay,
    private readonly logger: Logger,
    private readonly metrics: ConsumerMetrics,
    private readonly consumerGroup: string,
    private readonly maxAttempts: number,
  ) {}

  async handle<T extends Topic>(topic: T, message: InboundMessage, effect: EventEffect<T>): Promise<InboxOutcome> {
    const decoded = decodeEvent(topic, message.value);
    if (!decoded.ok) {
      const { reason, path, eventId } = decoded.violation;
      await this.deadLetter(topic, message, reason, path, eventId);
      return this.count(topic, 'dead-lettered');
    }
    const event = decoded.event;
    // Heavy or retried work keeps the member in its group: no eviction, no redelivery mid-handler.
    return withHeartbeat(message.heartbeat, () => this.run(topic, message, event, effect));
  }

  private async run<T extends Topic>(topic: T, message: InboundMessage, event: EventEnvelope<TopicPayloads[T]>, effect: EventEffect<T>): Promise<InboxOutcome> {
    const log = this.logger.child({ correlationId: event.correlationId, eventId: event.eventId, topic: message.topic });
    for (let attempt = 1; ; attempt++) {
      try {
        const fresh = await inTransaction(this.dataSource, async (manager) => {
          const claimed: unknown[] = await manager.query(
            `INSERT INTO processed_events (consumer_group, event_id, topic) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING RETURNING event_id`,
            [this.consumerGroup, event.eventId, message.topic],
          );
          if (claimed.length === 0) return false;
          await effect(event, manager);
          return true;
        });
        if (!fresh) {
          log.debug('duplicate delivery ignored');
          return this.count(topic, 'duplicate');
        }
        this.relay.kick();
        return this.count(topic, 'processed');
      } catch (error) {
        if (isDatabaseUnavailable(error)) {
          log.warn({ err: error }, 'database unavailable; the message will be redelivered');
          throw error;
        }
        if (attempt >= this.maxAttempts) {
          log.error({ err: error, attempt }, 'handler failed on every attempt; dead-lettering the event');
          await this.deadLetter(topic, message, `handler failed ${attempt} times: ${(error as Error).message}`, '', event.eventId);
          return this.count(topic, 'dead-lettered');
        }
        log.warn({ err: error, attempt }, 'handler failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** attempt)));
      }
    }
  }

  private count(topic: Topic, outcome: InboxOutcome): InboxOutcome {
    this.metrics.consumed.inc({ topic, outcome });
    return outcome;
  }

  private async deadLetter(topic: Topic, message: InboundMessage, reason: string, path: string, eventId: string | null) {
    this.logger.warn(
      { topic: message.topic, partition: message.partition, offset: message.offset, reason, path, eventId },
      'invalid message sent to the dead-letter topic',
    );
    const key = message.key === null ? null : Buffer.isBuffer(message.key) ? message.key.toString('utf8') : message.key;
    await this.publisher.send([
      {
        topic: dlqTopicName(topic),
        key,
        value: message.value ?? Buffer.alloc(0),
        headers: {
          'dlq-reason': reason.slice(0, 2_000),
          'dlq-path': path,
          'dlq-event-id': eventId ?? '',
          'dlq-original-topic': message.topic,
          'dlq-original-partition': String(message.partition),
          'dlq-original-offset': message.offset,
          'dlq-consumer-group': this.consumerGroup,
          'dlq-at': new Date().toISOString(),
        },
      },
    ]);
  }
}
