import { dailySpend, type DeadlineSettings } from '#batching';
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { DEADLINE_SETTINGS, DeadlineService } from '../deadlines/deadline.service.js';

/** Deadlines: whether requests past their deadline are answered on demand, today's on-demand spend, and why not when they are not. */
@ApiTags('operations')
@Controller()
export class DeadlinesController {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(DeadlineService) private readonly deadlines: DeadlineService,
    @Inject(DEADLINE_SETTINGS) private readonly settings: DeadlineSettings | null,
  ) {}

  @Get('deadlines')
  @ApiOperation({ summary: "Deadlines (DEADLINES): on or off, the margin, today's on-demand spend against its budget, and this replica's last budget refusal" })
  async view() {
    if (!this.settings) return { enabled: false };
    const spend = await dailySpend(this.dataSource.manager, new Date(), 'on_demand');
    return {
      enabled: true,
      marginMs: this.settings.marginMs,
      budgetUsd: this.settings.dailyBudgetUsd,
      spend: { ...spend, committedUsd: spend.settledUsd + spend.reservedUsd },
      refusal: this.deadlines.refusal,
    };
  }
}
