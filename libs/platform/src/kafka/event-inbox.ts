import { decodeEvent, dlqTopicOf, type EventEnvelope, type Topic, type TopicPayloads } from '#contracts';
import { KafkaContext } from '@nestjs/microservices';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { describeDatabaseError, inTransaction, isDatabaseError, isDatabaseUnavailable } from '../database/transaction.js';
import type { ConsumerMetrics, DeadLetterReason } from '../metrics/consumer-metrics.js';
import type { EventPublisher, OutgoingMessage } from './event-publisher.service.js';
import type { OutboxRelay } from './outbox.js';
import { DLQ_HEADERS, recordDeadLetters, requestIdentityOf } from './dead-letters.js';
import { withHeartbeat } from './keep-alive.js';
import { type Context, SpanKind, trace } from '@opentelemetry/api';
import { contextOfHeaders, recordedLinks, ServiceTracer, tracingEnabled } from '../tracing/tracing.js';

export type InboxOutcome = 'processed' | 'duplicate' | 'dead-lettered';

/**
 * Thrown by a handler that refuses an event as such (it passes the contract, but this deployment cannot
 * act on it, e.g. an unknown prompt version): dead-lettered at once with the reason and the field path,
 * never retried — retrying cannot change the answer.
 */
export class RefusedEvent extends Error {
  constructor(
    readonly reason: string,
    readonly path: string,
  ) {
    super(reason);
    this.name = 'RefusedEvent';
  }
}

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

/** The batch form: every new event of a batch, in delivery order, and the one transaction they share. */
export type BatchEffect<T extends Topic> = (events: Array<EventEnvelope<TopicPayloads[T]>>, manager: EntityManager) => Promise<void>;

interface Refused {
  message: InboundMessage;
  /** The kind of refusal, for the metric; `reason` is the full text. */
  kind: DeadLetterReason;
  reason: string;
  path: string;
  eventId: string | null;
}

interface Decoded<T extends Topic> {
  message: InboundMessage;
  event: EventEnvelope<TopicPayloads[T]>;
}

/**
 * The context each event of a consumed batch arrived with (its producer's span), while tracing is on: a
 * batch is handled in one span, and a handler that starts one trace per event (ingestion starts each
 * request's) makes it a child of its own message's context, not of the batch's.
 */
const arrivedWith = new WeakMap<object, Context>();

export function consumedContextOf(event: object): Context | undefined {
  return arrivedWith.get(event);
}

function messagingAttributes(message: InboundMessage, consumerGroup: string) {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.destination.name': message.topic,
    'messaging.destination.partition.id': String(message.partition),
    'messaging.consumer.group.name': consumerGroup,
  };
}

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
 * a failing effect `maxAttempts` times before dead-lettering it: the one retry budget of a failing
 * effect (a unique violation, a lost race or a constraint bug alike; the transaction helper retries only
 * serialization failures and deadlocks). A database outage is
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
    private readonly tracer = new ServiceTracer(consumerGroup),
  ) {}

  /** Handles one message in a `process` span, child of the context its headers carry (the outbox row's writer). */
  async handle<T extends Topic>(topic: T, message: InboundMessage, effect: EventEffect<T>): Promise<InboxOutcome> {
    if (!tracingEnabled()) return this.handleOne(topic, message, effect);
    const attributes = { ...messagingAttributes(message, this.consumerGroup), 'messaging.kafka.offset': Number(message.offset) };
    return this.tracer.inSpan(`${message.topic} process`, { kind: SpanKind.CONSUMER, parent: contextOfHeaders(message.headers), attributes }, () =>
      this.handleOne(topic, message, effect),
    );
  }

  private async handleOne<T extends Topic>(topic: T, message: InboundMessage, effect: EventEffect<T>): Promise<InboxOutcome> {
    const decoded = decodeEvent(topic, message.value);
    if (!decoded.ok) {
      const { reason, path, eventId } = decoded.violation;
      await this.deadLetter(topic, [{ message, kind: 'invalid', reason, path, eventId }]);
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
        if (error instanceof RefusedEvent) {
          log.warn({ reason: error.reason, path: error.path }, 'handler refused the event; dead-lettering it');
          await this.deadLetter(topic, [{ message, kind: 'refused', reason: error.reason, path: error.path, eventId: event.eventId }]);
          return this.count(topic, 'dead-lettered');
        }
        // A database error is logged by its description: its `detail` and the query's parameters hold values.
        const failure = { reason: describeDatabaseError(error), attempt, ...(isDatabaseError(error) ? {} : { err: error }) };
        if (attempt >= this.maxAttempts) {
          const reason = `handler failed ${attempt} times: ${failure.reason}`;
          log.error(failure, 'handler failed on every attempt; dead-lettering the event');
          await this.deadLetter(topic, [{ message, kind: 'handler_failed', reason, path: '', eventId: event.eventId }]);
          return this.count(topic, 'dead-lettered');
        }
        log.warn(failure, 'handler failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** attempt)));
      }
    }
  }

  /**
   * Handles consecutive messages of one partition in ONE transaction: every eventId is claimed with one
   * statement and the effect gets the new events only. Invalid messages are dead-lettered after the
   * commit (a redelivered batch then does not dead-letter them twice). A database outage is rethrown
   * so that the whole batch is redelivered; any other failure falls back to one transaction per event,
   * so that only the event that fails is retried and, in the end, dead-lettered.
   */
  async handleBatch<T extends Topic>(topic: T, messages: InboundMessage[], heartbeat: () => Promise<void>, effect: BatchEffect<T>): Promise<void> {
    if (!tracingEnabled() || messages.length === 0) return this.handleSlice(topic, messages, heartbeat, effect);
    // One span for the slice (one transaction), linked to its messages' recorded producers (capped: see MAX_SPAN_LINKS).
    const contexts = messages.map((message) => contextOfHeaders(message.headers));
    const links = recordedLinks(contexts.map((context) => ({ context: trace.getSpanContext(context) })));
    const attributes = { ...messagingAttributes(messages[0]!, this.consumerGroup), 'messaging.batch.message_count': messages.length };
    return this.tracer.inSpan(`${messages[0]!.topic} process`, { kind: SpanKind.CONSUMER, links, attributes }, () =>
      this.handleSlice(topic, messages, heartbeat, effect, contexts),
    );
  }

  private async handleSlice<T extends Topic>(
    topic: T,
    messages: InboundMessage[],
    heartbeat: () => Promise<void>,
    effect: BatchEffect<T>,
    contexts: Context[] = [],
  ): Promise<void> {
    const valid: Array<Decoded<T>> = [];
    const invalid: Refused[] = [];
    for (const [index, message] of messages.entries()) {
      const decoded = decodeEvent(topic, message.value);
      if (decoded.ok) {
        valid.push({ message, event: decoded.event });
        if (contexts[index]) arrivedWith.set(decoded.event, contexts[index]);
      } else {
        const { reason, path, eventId } = decoded.violation;
        invalid.push({ message, kind: 'invalid', reason, path, eventId });
      }
    }
    await withHeartbeat(heartbeat, async () => {
      if (valid.length > 0) await this.runBatch(topic, valid, effect);
      if (invalid.length === 0) return;
      await this.deadLetter(topic, invalid);
      this.count(topic, 'dead-lettered', invalid.length);
    });
  }

  private async runBatch<T extends Topic>(topic: T, items: Array<Decoded<T>>, effect: BatchEffect<T>): Promise<void> {
    // The same event twice in one batch is one event; the second copy counts as a duplicate.
    const unique = [...new Map(items.map((item) => [item.event.eventId.toLowerCase(), item])).values()];
    try {
      const fresh = await inTransaction(this.dataSource, async (manager) => {
        const claimed: Array<{ event_id: string }> = await manager.query(
          `INSERT INTO processed_events (consumer_group, event_id, topic)
           SELECT $1, id, $3 FROM unnest($2::uuid[]) AS id
           ON CONFLICT DO NOTHING RETURNING event_id`,
          [this.consumerGroup, unique.map((item) => item.event.eventId), items[0]!.message.topic],
        );
        const ids = new Set(claimed.map((row) => row.event_id.toLowerCase()));
        const events = unique.filter((item) => ids.has(item.event.eventId.toLowerCase())).map((item) => item.event);
        if (events.length > 0) await effect(events, manager);
        return events.length;
      });
      if (fresh > 0) this.relay.kick();
      this.count(topic, 'processed', fresh);
      this.count(topic, 'duplicate', items.length - fresh);
    } catch (error) {
      const first = items[0]!.message;
      const where = { topic: first.topic, partition: first.partition, fromOffset: first.offset, events: items.length };
      if (isDatabaseUnavailable(error)) {
        this.logger.warn({ err: error, ...where }, 'database unavailable; the batch will be redelivered');
        throw error;
      }
      this.logger.warn({ err: error, ...where }, 'batch failed; handling its events one transaction each');
      for (const { message, event } of items) {
        await this.run(topic, message, event, (one, manager) => effect([one], manager));
      }
    }
  }

  private count(topic: Topic, outcome: InboxOutcome, n = 1): InboxOutcome {
    if (n > 0) this.metrics.consumed.inc({ topic, outcome }, n);
    return outcome;
  }

  /**
   * Records each refused message in `dead_letters` (with the request id its raw JSON carries, if any),
   * then publishes its original bytes to `<topic>.dlq`. A crash between the two redelivers the message:
   * the row is kept once, the DLQ entry may repeat (a re-drive publishes each source offset once).
   */
  private async deadLetter(topic: Topic, refused: Refused[]): Promise<void> {
    // The dead-letter topic of the (prefixed) topic each message was read from.
    await recordDeadLetters(
      this.dataSource,
      refused.map(({ message, reason, path, eventId }) => ({
        consumerGroup: this.consumerGroup,
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
        eventId,
        ...requestIdentityOf(message.value),
        reason,
        path,
        dlqTopic: dlqTopicOf(message.topic),
      })),
    );
    await this.publisher.send(refused.map(({ message, reason, path, eventId }) => this.deadLetterMessage(dlqTopicOf(message.topic), message, reason, path, eventId)));
    for (const { kind } of refused) this.metrics.deadLetters.inc({ topic, reason: kind });
  }

  private deadLetterMessage(dlqTopic: string, message: InboundMessage, reason: string, path: string, eventId: string | null): OutgoingMessage {
    this.logger.warn(
      { topic: message.topic, partition: message.partition, offset: message.offset, reason, path, eventId },
      'invalid message sent to the dead-letter topic',
    );
    const key = message.key === null ? null : Buffer.isBuffer(message.key) ? message.key.toString('utf8') : message.key;
    return {
      topic: dlqTopic,
      key,
      value: message.value ?? Buffer.alloc(0),
      headers: {
        [DLQ_HEADERS.reason]: reason.slice(0, 2_000),
        [DLQ_HEADERS.path]: path,
        [DLQ_HEADERS.eventId]: eventId ?? '',
        [DLQ_HEADERS.originalTopic]: message.topic,
        [DLQ_HEADERS.originalPartition]: String(message.partition),
        [DLQ_HEADERS.originalOffset]: message.offset,
        [DLQ_HEADERS.consumerGroup]: this.consumerGroup,
        [DLQ_HEADERS.at]: new Date().toISOString(),
      },
    };
  }
}
