import { requestHistory } from '#ledger';
import { Controller, Get, Inject, NotFoundException, Param } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { TextInput } from './ops-input.js';
import { OPS_SETTINGS, type OpsSettings } from './ops-settings.js';

@ApiTags('requests')
@Controller('requests')
export class RequestsController {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(OPS_SETTINGS) private readonly settings: OpsSettings,
  ) {}

  @Get(':id')
  @ApiOperation({ summary: "One request's full history: every prompt version, batch, pass, attempt and result (the PR text only with OPS_SHOW_PR_TEXT=true)" })
  @ApiOkResponse({ description: 'requests, batches, attempts and results of the id' })
  @ApiNotFoundResponse({ description: 'no request with this id' })
  async history(@Param('id', new TextInput('id')) id: string) {
    const history = await requestHistory(this.dataSource.manager, id, { includePrText: this.settings.showPrText });
    if (!history) throw new NotFoundException(`no request with id ${id}`);
    return history;
  }
}
