import { batchDetail, listBatches, retryBatch } from '#ledger';
import { inTransaction, OpsTokenGuard, ROOT_LOGGER } from '#platform';
import { Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, UseGuards } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { BATCH_OUTCOME_READER, type BatchOutcomeReader } from '../polling/batch-outcome.port.js';

/** Operators' view of batches; the calls that change something need the ops token. */
@Controller('batches')
export class BatchesController {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(BATCH_OUTCOME_READER) private readonly provider: BatchOutcomeReader,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  @Get()
  list(@Query('state') state?: string, @Query('pass') pass?: string, @Query('limit') limit?: string) {
    return listBatches(this.dataSource.manager, { state, pass: pass ? Number(pass) : undefined, limit: limit ? Number(limit) : undefined });
  }

  @Get(':id')
  async one(@Param('id') id: string) {
    const detail = await batchDetail(this.dataSource.manager, id);
    if (!detail) throw new NotFoundException(`no batch with id ${id}`);
    return detail;
  }

  @Post(':id/retry')
  @HttpCode(202)
  @UseGuards(OpsTokenGuard)
  async retry(@Param('id') id: string) {
    const message = await inTransaction(this.dataSource, (m) => retryBatch(m, id));
    if (!message) throw new NotFoundException(`no batch with id ${id}`);
    this.logger.info({ batchId: id, action: 'retry' }, message);
    return { message };
  }

  /** Asks the provider to cancel; the poller then retries the unfinished requests as usual. */
  @Post(':id/cancel')
  @HttpCode(202)
  @UseGuards(OpsTokenGuard)
  async cancel(@Param('id') id: string) {
    const detail = await batchDetail(this.dataSource.manager, id);
    if (!detail?.batch.provider_batch_id) throw new NotFoundException(`no submitted batch with id ${id}`);
    const status = await this.provider.cancel(detail.batch.provider_batch_id);
    this.logger.info({ batchId: detail.batch.batch_id, action: 'cancel', status }, 'cancel requested');
    return { batchId: detail.batch.batch_id, providerStatus: status };
  }
}
