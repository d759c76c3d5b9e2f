import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Admin } from 'kafkajs';
import { DataSource } from 'typeorm';
import { OpsAccess } from '../ops/ops-token.guard.js';
import { KAFKA_ADMIN } from '../platform.tokens.js';

const CHECK_TIMEOUT_MS = 3_000;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)),
  ]);
}

/** Open to probes wherever the server is bound: it says whether the service works, nothing about the data. */
@OpsAccess('open')
@Controller('health')
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(KAFKA_ADMIN) private readonly admin: Admin,
  ) {}

  /** The process is up and its event loop turns. */
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /** Ready to do work: Kafka and PostgreSQL both answer. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      async () => {
        const check = this.indicators.check('kafka');
        try {
          const cluster = await withTimeout(this.admin.describeCluster(), 'Kafka');
          return check.up({ brokers: cluster.brokers.length });
        } catch (error) {
          return check.down({ message: (error as Error).message });
        }
      },
      async () => {
        const check = this.indicators.check('postgres');
        try {
          await withTimeout(this.dataSource.query('SELECT 1'), 'PostgreSQL');
          return check.up();
        } catch (error) {
          return check.down({ message: (error as Error).message });
        }
      },
    ]);
  }
}
