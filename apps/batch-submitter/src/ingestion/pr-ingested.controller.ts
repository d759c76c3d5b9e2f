import { Topic } from '#contracts';
import { EventInbox, fromKafkaContext, topicName } from '#platform';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { IngestionService } from './ingestion.service.js';

@Controller()
export class PrIngestedController {
  constructor(
    @Inject(EventInbox) private readonly inbox: EventInbox,
    @Inject(IngestionService) private readonly ingestion: IngestionService,
  ) {}

  @EventPattern(topicName(Topic.PrIngested))
  async onPrIngested(@Payload() raw: unknown, @Ctx() context: unknown): Promise<void> {
    await this.inbox.handle(Topic.PrIngested, fromKafkaContext(context, raw), async (event, manager) => {
      await this.ingestion.accept(event, manager);
    });
  }
}
