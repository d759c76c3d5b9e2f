import type { Topic } from '#contracts';
import { type IncomingEvent, type IncomingRequest, type KafkaOptions, KafkaRequestDeserializer, ServerKafka } from '@nestjs/microservices';
import type { Consumer } from 'kafkajs';
import { topicName } from './topic-names.js';

/** Routes a message read from `<prefix><topic>` to the handler of the contract topic `<topic>`. */
class ContractTopicDeserializer extends KafkaRequestDeserializer {
  constructor(private readonly prefix: string) {
    super();
  }

  override mapToSchema(data: Parameters<KafkaRequestDeserializer['mapToSchema']>[0], options?: Record<string, unknown>): IncomingRequest | IncomingEvent {
    const channel = options?.channel;
    const logical = typeof channel === 'string' && channel.startsWith(this.prefix) ? channel.slice(this.prefix.length) : channel;
    return super.mapToSchema(data, { ...options, channel: logical });
  }
}

/**
 * The Nest Kafka transport with the topic prefix from the validated config: handlers name contract
 * topics (`@EventPattern(Topic.X)`, fixed at import time), and this subscribes to their prefixed names,
 * so the prefix is never read from the environment when decorators run. `KafkaContext.getTopic()` stays
 * the physical name (dead letters and processed events record it).
 */
export class PrefixedKafkaServer extends ServerKafka {
  constructor(
    private readonly prefix: string,
    options: Required<KafkaOptions>['options'],
  ) {
    super({ ...options, deserializer: new ContractTopicDeserializer(prefix) });
  }

  // As ServerKafka.bindEvents, with each contract topic subscribed under its physical name.
  override async bindEvents(consumer: Consumer): Promise<void> {
    const topics = [...this.messageHandlers.keys()].map((pattern) => topicName(pattern as Topic, this.prefix));
    if (topics.length > 0) await consumer.subscribe({ ...this.options.subscribe, topics });
    await consumer.run({ ...this.options.run, eachMessage: this.getMessageHandler() });
  }
}
