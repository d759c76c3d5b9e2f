import { Topic } from '#contracts';
import { BatchConsumer, PLATFORM_RUNTIME, type PlatformRuntime } from '#platform';
import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { IngestionService } from './ingestion.service.js';

export const INGESTION_TOPICS = [Topic.PrIngested, Topic.PrReplayed] as const;

/**
 * Consumes `pr.ingested.v1` and its re-feeds, `pr.replayed.v1` (replays and dead-letter re-drives: the
 * same payload, the same handler), a Kafka batch at a time: ingestion is the pipeline's pace-setter, and
 * one transaction per batch costs a fraction of one per PR. Stops before the shutdown hooks close the
 * outbox relay, the producer and the pool.
 */
@Injectable()
export class PrIngestedConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumer: BatchConsumer<Topic.PrIngested | Topic.PrReplayed>;

  constructor(@Inject(PLATFORM_RUNTIME) runtime: PlatformRuntime, @Inject(IngestionService) ingestion: IngestionService) {
    this.consumer = new BatchConsumer(runtime, INGESTION_TOPICS, async (events, manager) => {
      await ingestion.acceptMany(events, manager);
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
  }
}
