import { Topic } from '#contracts';
import { EventInbox, fromKafkaContext } from '#platform';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { RetryService } from './retry.service.js';

@Controller()
export class RequestsFailedController {
  constructor(
    @Inject(EventInbox) private readonly inbox: EventInbox,
    @Inject(RetryService) private readonly retry: RetryService,
  ) {}

  @EventPattern(Topic.RequestsFailed)
  async onRequestsFailed(@Payload() raw: unknown, @Ctx() context: unknown): Promise<void> {
    await this.inbox.handle(Topic.RequestsFailed, fromKafkaContext(context, raw), async (event, manager) => {
      await this.retry.handle(event, manager);
    });
  }
}
