import { ALL_TOPICS, dlqTopicOf, type Topic } from '#contracts';

/**
 * The physical name of a contract topic: the prefix (KAFKA_TOPIC_PREFIX from the validated config, one
 * per environment or test run) plus the versioned name. Handlers name the contract topic
 * (`@EventPattern(Topic.X)`); the Kafka transport adds the prefix (`PrefixedKafkaServer`).
 */
export function topicName(topic: Topic, prefix: string): string {
  return `${prefix}${topic}`;
}

export function dlqTopicName(topic: Topic, prefix: string): string {
  return dlqTopicOf(topicName(topic, prefix));
}

/** Contract topics accept up to 4 MiB so that an oversized upstream event reaches us and is dead-lettered with a reason. */
export const TOPIC_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** A dead-letter entry carries the original bytes plus headers. */
export const DLQ_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export interface TopicSpec {
  name: string;
  partitions: number;
  maxMessageBytes: number;
}

export function allTopicSpecs(prefix: string, partitions: number, perTopic: Partial<Record<Topic, number>> = {}): TopicSpec[] {
  return ALL_TOPICS.flatMap((topic) => [
    { name: topicName(topic, prefix), partitions: perTopic[topic] ?? partitions, maxMessageBytes: TOPIC_MAX_MESSAGE_BYTES },
    { name: dlqTopicName(topic, prefix), partitions: 1, maxMessageBytes: DLQ_MAX_MESSAGE_BYTES },
  ]);
}
