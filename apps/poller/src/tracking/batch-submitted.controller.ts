import { Topic } from '#contracts';
import { EventInbox, fromKafkaContext } from '#platform';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { BatchTrackingRepository } from './batch-tracking.repository.js';

@Controller()
export class BatchSubmittedController {
  constructor(
    @Inject(EventInbox) private readonly inbox: EventInbox,
    @Inject(BatchTrackingRepository) private readonly tracking: BatchTrackingRepository,
  ) {}

  @EventPattern(Topic.BatchSubmitted)
  async onBatchSubmitted(@Payload() raw: unknown, @Ctx() context: unknown): Promise<void> {
    await this.inbox.handle(Topic.BatchSubmitted, fromKafkaContext(context, raw), async (event, manager) => {
      await this.tracking.track(manager, event.payload);
    });
  }
}
