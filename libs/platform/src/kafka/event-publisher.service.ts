import { type EncodedEvent, type EventEnvelope, encodeEvent, type Topic, type TopicPayloads } from '#contracts';
import { CompressionTypes, type Kafka, Partitioners, type Producer } from 'kafkajs';
import { topicName } from './topic-names.js';

export interface OutgoingMessage {
  topic: string;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

/**
 * The one awaitable producer of a service: every send is awaited by its caller, so an error is
 * never lost in a floating promise. Events are validated against their contract before leaving.
 */
export class EventPublisher {
  private producer: Producer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly prefix: string,
  ) {}

  async connect(): Promise<void> {
    if (this.producer) return;
    const producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      maxInFlightRequests: 1,
      idempotent: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    this.producer = producer;
  }

  encode<T extends Topic>(topic: T, event: EventEnvelope<TopicPayloads[T]>): OutgoingMessage {
    const encoded: EncodedEvent = encodeEvent(topic, event);
    return { topic: topicName(topic, this.prefix), ...encoded };
  }

  async publish<T extends Topic>(topic: T, event: EventEnvelope<TopicPayloads[T]>): Promise<void> {
    await this.send([this.encode(topic, event)]);
  }

  /** Sends already-encoded messages in order (the outbox relay and the dead-letter path use it). */
  async send(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    if (!this.producer) await this.connect();
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const message of messages) byTopic.set(message.topic, [...(byTopic.get(message.topic) ?? []), message]);
    await this.producer!.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, list]) => ({
        topic,
        messages: list.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      })),
    });
  }

  async disconnect(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    await producer?.disconnect();
  }
}
