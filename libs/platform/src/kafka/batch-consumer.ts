import type { Topic } from '#contracts';
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { PlatformRuntime } from '../platform.module.js';
import type { BatchEffect, InboundMessage } from './event-inbox.js';
import { consumerConfigOf } from './kafka-client.js';
import { topicName } from './topic-names.js';

export interface BatchConsumerOptions {
  /** Events per transaction: a fetched Kafka batch larger than this is committed in slices of it. */
  maxEventsPerTransaction?: number;
}

/**
 * Consumes contract topics in Kafka batches through the inbox (`EventInbox.handleBatch`): one
 * transaction per slice of a fetched batch instead of one per message. Offsets are resolved only after
 * the slice's transaction committed, so a failure (a database outage) redelivers the slice from its
 * first message. For topics where a transaction per message is the bottleneck; the others keep the Nest
 * `@EventPattern` handlers.
 */
export class BatchConsumer<T extends Topic> {
  private consumer: Consumer | null = null;
  private readonly maxEvents: number;

  /** Several topics share one consumer (one group member): members of a group must subscribe alike. */
  private readonly topics: readonly T[];

  constructor(
    private readonly runtime: PlatformRuntime,
    topics: T | readonly T[],
    private readonly effect: BatchEffect<T>,
    options: BatchConsumerOptions = {},
  ) {
    this.topics = Array.isArray(topics) ? topics : [topics as T];
    this.maxEvents = options.maxEventsPerTransaction ?? 500;
  }

  async start(): Promise<void> {
    const { kafka, config } = this.runtime;
    // The same group as the service's Nest transport, so the same settings (KAFKA_SESSION_TIMEOUT_MS, fetch size).
    const consumer = kafka.consumer(consumerConfigOf(config.kafka));
    await consumer.connect();
    const byName = new Map(this.topics.map((topic) => [topicName(topic, config.kafka.topicPrefix), topic]));
    await consumer.subscribe({ topics: [...byName.keys()], fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: config.kafka.partitionsConsumedConcurrently,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.onBatch(byName.get(payload.batch.topic)!, payload),
    });
    this.consumer = consumer;
  }

  /** Stops fetching and waits for the slice in progress to commit (the shutdown order needs the pool still open). */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = null;
    await consumer?.disconnect();
  }

  private async onBatch(topic: T, { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    for (let start = 0; start < batch.messages.length; start += this.maxEvents) {
      // Stopping, or the partition moved in a rebalance: the rest is redelivered from the last commit.
      if (!isRunning() || isStale()) return;
      const slice = batch.messages.slice(start, start + this.maxEvents);
      const messages: InboundMessage[] = slice.map((message) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: message.offset,
        value: message.value,
        key: message.key,
        headers: message.headers ?? {},
        heartbeat,
      }));
      await this.runtime.inbox.handleBatch(topic, messages, heartbeat, this.effect);
      resolveOffset(slice[slice.length - 1]!.offset);
      await commitOffsetsIfNecessary();
      await heartbeat();
    }
  }
}
