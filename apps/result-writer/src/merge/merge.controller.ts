import { Topic } from '#contracts';
import { EventInbox, fromKafkaContext } from '#platform';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { MergeService } from './merge.service.js';

@Controller()
export class MergeController {
  constructor(
    @Inject(EventInbox) private readonly inbox: EventInbox,
    @Inject(MergeService) private readonly merge: MergeService,
  ) {}

  @EventPattern(Topic.BatchCompleted)
  async onBatchCompleted(@Payload() raw: unknown, @Ctx() context: unknown): Promise<void> {
    await this.inbox.handle(Topic.BatchCompleted, fromKafkaContext(context, raw), async (event, manager) => {
      await this.merge.mergeResults(event, manager);
    });
  }

  @EventPattern(Topic.RequestsSettled)
  async onRequestsSettled(@Payload() raw: unknown, @Ctx() context: unknown): Promise<void> {
    await this.inbox.handle(Topic.RequestsSettled, fromKafkaContext(context, raw), async (event, manager) => {
      await this.merge.recordSettled(event, manager);
    });
  }

  @EventPattern(Topic.RequestsFailedPermanently)
  async onRequestsFailedPermanently(@Payload() raw: unknown, @Ctx() context: unknown): Promise<void> {
    await this.inbox.handle(Topic.RequestsFailedPermanently, fromKafkaContext(context, raw), async (event, manager) => {
      await this.merge.recordPermanentFailures(event, manager);
    });
  }
}
