import { Controller, Get, Header, Inject } from '@nestjs/common';
import { OpsAccess } from '../ops/ops-token.guard.js';
import { ConsumerMetrics } from './consumer-metrics.js';

/** Open to scrapers as before: counters and lag, no PR data. */
@OpsAccess('open')
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(ConsumerMetrics) private readonly metrics: ConsumerMetrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
