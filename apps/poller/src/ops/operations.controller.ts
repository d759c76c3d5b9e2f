import { QuotaGuard } from '#batching';
import { cacheStats, reconcile } from '#ledger';
import { inTransaction, ROOT_LOGGER, submissionStatus, writeControl } from '#platform';
import { Body, Controller, Get, Inject, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { textInput } from './ops-input.js';
import { OpsMutation } from './ops-mutation.decorator.js';
import { OPS_SETTINGS, type OpsSettings } from './ops-settings.js';

/** Quotas, cache, submission controls and the reconcile summary. Calls that change something need the ops token. */
@ApiTags('operations')
@Controller()
export class OperationsController {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(QuotaGuard) private readonly quota: QuotaGuard,
    @Inject(OPS_SETTINGS) private readonly settings: OpsSettings,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  @Get('quota')
  @ApiOperation({ summary: "Today's spend against the daily budget (billed for finished batches, reserved for open ones) and, per model, configured limits and today's / this minute's requests and tokens" })
  async quotaView() {
    return this.quota.view(this.settings.modelChain);
  }

  @Get('cache')
  @ApiOperation({ summary: 'Response cache: TTL, hits, misses, hit rate, entries and bytes' })
  async cache() {
    return cacheStats(this.dataSource.manager, this.settings.cacheTtlHours);
  }

  @Post('cache/clear')
  @OpsMutation()
  @ApiOperation({ summary: 'Stop reusing every answer resolved until now (results are kept; later identical PRs are analysed again)' })
  async clearCache() {
    const clearedAt = new Date().toISOString();
    await writeControl(this.dataSource.manager, 'cache', { clearedAt });
    this.logger.info({ action: 'cache.clear', clearedAt }, 'response cache cleared');
    return { clearedAt };
  }

  @Get('submission')
  @ApiOperation({ summary: 'Whether new batches are submitted: running, paused by an operator, or held by a quota or budget (and why)' })
  async submission() {
    return submissionStatus(this.dataSource.manager);
  }

  @Post('submission/pause')
  @OpsMutation()
  @ApiBody({ required: false, schema: { type: 'object', properties: { reason: { type: 'string', maxLength: 500 } } } })
  @ApiOperation({ summary: 'Pause forming new batches (every replica); batches already submitted are still polled and merged' })
  async pause(@Body() body: { reason?: unknown } = {}) {
    const reason = typeof body?.reason === 'string' ? textInput('reason', body.reason.slice(0, 500), 500) : null;
    await inTransaction(this.dataSource, (m) => writeControl(m, 'submission.pause', { paused: true, reason, changedAt: new Date().toISOString() }));
    this.logger.info({ action: 'submission.pause', reason }, 'submission paused');
    return submissionStatus(this.dataSource.manager);
  }

  @Post('submission/resume')
  @OpsMutation()
  @ApiOperation({ summary: 'Resume forming new batches' })
  async resume() {
    await inTransaction(this.dataSource, (m) => writeControl(m, 'submission.pause', { paused: false, reason: null, changedAt: new Date().toISOString() }));
    this.logger.info({ action: 'submission.resume' }, 'submission resumed');
    return submissionStatus(this.dataSource.manager);
  }

  @Get('reconcile')
  @ApiOperation({ summary: 'ingested = succeeded + failed + excluded + in flight, lost and stuck requests' })
  async reconcileSummary() {
    return reconcile(this.dataSource.manager, { defaultStageDeadlineMs: this.settings.stageDeadlineMs, strandedAfterMs: this.settings.strandedAfterMs, defaultPromptVersion: this.settings.defaultPromptVersion, listLimit: 100 });
  }
}
