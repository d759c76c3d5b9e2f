import { createEvent, type PrIngestedPayload, Topic } from '#contracts';
import { createKafka, EventPublisher } from '#platform';
import type { PipelineStack } from './pipeline-stack.js';

/** Publishes PRs to the stack's `pr.ingested.v1`, 500 per send, each event correlated by the producer and its request id. */
export async function publishPrs(stack: Pick<PipelineStack, 'brokers' | 'env'>, prs: readonly PrIngestedPayload[], producer: string): Promise<void> {
  const publisher = new EventPublisher(createKafka(producer, stack.brokers.split(',')), String(stack.env.KAFKA_TOPIC_PREFIX));
  await publisher.connect();
  try {
    for (let i = 0; i < prs.length; i += 500) {
      await publisher.send(
        prs
          .slice(i, i + 500)
          .map((pr) => publisher.encode(Topic.PrIngested, createEvent(Topic.PrIngested, pr, { correlationId: `${producer}-${pr.requestId}`, producer }))),
      );
    }
  } finally {
    await publisher.disconnect();
  }
}
