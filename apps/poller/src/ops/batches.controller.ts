import { batchDetail, listBatches, retryBatch } from '#ledger';
import { inTransaction, ROOT_LOGGER } from '#platform';
import { BadGatewayException, ConflictException, Controller, Get, Inject, NotFoundException, Param, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { IntegerInput, TextInput } from './ops-input.js';
import { OpsMutation } from './ops-mutation.decorator.js';
import { BATCH_OUTCOME_READERS, type BatchOutcomeReaders } from '../polling/batch-outcome.port.js';

/** Operators' view of batches; the calls that change something need the ops token. */
@ApiTags('batches')
@Controller('batches')
export class BatchesController {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(BATCH_OUTCOME_READERS) private readonly providers: BatchOutcomeReaders,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Batches, newest first, filtered by state, pass, model or prompt version' })
  @ApiQuery({ name: 'state', required: false, enum: ['creating', 'submitted', 'finished', 'submit_failed'] })
  @ApiQuery({ name: 'pass', required: false, type: Number })
  @ApiQuery({ name: 'model', required: false })
  @ApiQuery({ name: 'promptVersion', required: false })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: 'at most 1000 (default 100)' })
  list(
    @Query('state', new TextInput('state')) state?: string,
    @Query('pass', new IntegerInput('pass')) pass?: number,
    @Query('model', new TextInput('model')) model?: string,
    @Query('promptVersion', new TextInput('promptVersion')) promptVersion?: string,
    @Query('limit', new IntegerInput('limit')) limit?: number,
  ) {
    return listBatches(this.dataSource.manager, { state, pass, model, promptVersion, limit });
  }

  @Get(':id')
  @ApiOperation({ summary: "One batch (our id or the provider's) with its items' outcomes and its failures by code" })
  async one(@Param('id', new TextInput('id')) id: string) {
    const detail = await batchDetail(this.dataSource.manager, id);
    if (!detail) throw new NotFoundException(`no batch with id ${id}`);
    return detail;
  }

  @Post(':id/retry')
  @ApiOperation({ summary: 'Poll again now, resume an interrupted submission, or queue the stranded requests of a finished batch again' })
  @OpsMutation()
  @ApiConflictResponse({ description: 'a submitter holds the batch while it creates it at the provider' })
  async retry(@Param('id', new TextInput('id')) id: string) {
    const outcome = await inTransaction(this.dataSource, (m) => retryBatch(m, id));
    if (!outcome) throw new NotFoundException(`no batch with id ${id}`);
    if (outcome.conflict) throw new ConflictException(outcome.message);
    this.logger.info({ batchId: id, action: 'retry' }, outcome.message);
    return { message: outcome.message };
  }

  /** Asks the provider to cancel; the poller then retries the unfinished requests as usual. */
  @Post(':id/cancel')
  @ApiOperation({ summary: 'Ask the provider to cancel; unfinished requests are then retried as usual' })
  @ApiConflictResponse({ description: 'the provider refused (the batch already finished, expired or was cancelled)' })
  @OpsMutation()
  async cancel(@Param('id', new TextInput('id')) id: string) {
    const detail = await batchDetail(this.dataSource.manager, id);
    if (!detail?.batch.provider_batch_id) throw new NotFoundException(`no submitted batch with id ${id}`);
    let status: string;
    try {
      status = await this.providers.for(detail.batch.model).cancel(detail.batch.provider_batch_id);
    } catch (error) {
      // The provider's refusal (already finished, expired…) is the operator's answer, not a server fault.
      const providerStatus = (error as { status?: unknown }).status;
      const message = `the provider refused to cancel batch ${detail.batch.batch_id}: ${(error as Error).message}`;
      this.logger.warn({ batchId: detail.batch.batch_id, action: 'cancel', providerStatus }, message);
      if (typeof providerStatus === 'number' && providerStatus >= 400 && providerStatus < 500) throw new ConflictException(message);
      throw new BadGatewayException(message);
    }
    this.logger.info({ batchId: detail.batch.batch_id, action: 'cancel', status }, 'cancel requested');
    return { batchId: detail.batch.batch_id, providerStatus: status };
  }
}
