import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import type { Admin, Kafka } from 'kafkajs';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import type { ServiceConfig } from './config/service-config.js';
import { RetentionSweeper } from './database/retention.js';
import { HealthController } from './health/health.controller.js';
import { EventInbox } from './kafka/event-inbox.js';
import { EventPublisher } from './kafka/event-publisher.service.js';
import { OutboxRelay, OutboxRepository } from './kafka/outbox.js';
import { ConsumerMetrics } from './metrics/consumer-metrics.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { OpsTokenGuard } from './ops/ops-token.guard.js';
import { KAFKA, KAFKA_ADMIN, ROOT_LOGGER, SERVICE_CONFIG } from './platform.tokens.js';

/** Everything a service shares with the others, built once by `bootstrapService`. */
export interface PlatformRuntime {
  config: ServiceConfig;
  logger: Logger;
  dataSource: DataSource;
  kafka: Kafka;
  admin: Admin;
  publisher: EventPublisher;
  outbox: OutboxRepository;
  relay: OutboxRelay;
  retention: RetentionSweeper;
  inbox: EventInbox;
  metrics: ConsumerMetrics;
}

export const PLATFORM_RUNTIME = Symbol('PLATFORM_RUNTIME');

/**
 * Starts the outbox relay and the retention sweep once the app is up, and tears down in the safe order after the Kafka
 * consumer has stopped (Nest closes the microservice before shutdown hooks): publish what is
 * pending, then close the producer, the admin client and the pool.
 */
@Injectable()
class PlatformLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(PLATFORM_RUNTIME) private readonly runtime: PlatformRuntime) {}

  onApplicationBootstrap(): void {
    this.runtime.relay.start();
    this.runtime.retention.start();
  }

  async onApplicationShutdown(): Promise<void> {
    const { relay, retention, publisher, admin, dataSource, logger } = this.runtime;
    await retention.stop();
    await relay.stop();
    await publisher.disconnect().catch((error: unknown) => logger.warn({ err: error }, 'producer disconnect failed'));
    await admin.disconnect().catch(() => undefined);
    if (dataSource.isInitialized) await dataSource.destroy();
    logger.info('shut down cleanly');
  }
}

@Global()
@Module({})
export class PlatformModule {
  static forRoot(runtime: PlatformRuntime): DynamicModule {
    return {
      module: PlatformModule,
      imports: [TerminusModule, LoggerModule.forRoot({ pinoHttp: { logger: runtime.logger, autoLogging: false } })],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: PLATFORM_RUNTIME, useValue: runtime },
        { provide: SERVICE_CONFIG, useValue: runtime.config },
        { provide: ROOT_LOGGER, useValue: runtime.logger },
        { provide: DataSource, useValue: runtime.dataSource },
        { provide: KAFKA, useValue: runtime.kafka },
        { provide: KAFKA_ADMIN, useValue: runtime.admin },
        { provide: EventPublisher, useValue: runtime.publisher },
        { provide: OutboxRepository, useValue: runtime.outbox },
        { provide: OutboxRelay, useValue: runtime.relay },
        { provide: RetentionSweeper, useValue: runtime.retention },
        { provide: EventInbox, useValue: runtime.inbox },
        { provide: ConsumerMetrics, useValue: runtime.metrics },
        PlatformLifecycle,
        // Every route of every service passes the token rules; routes declare their level with @OpsAccess.
        { provide: APP_GUARD, useClass: OpsTokenGuard },
      ],
      exports: [
        PLATFORM_RUNTIME,
        SERVICE_CONFIG,
        ROOT_LOGGER,
        DataSource,
        KAFKA,
        KAFKA_ADMIN,
        EventPublisher,
        OutboxRepository,
        OutboxRelay,
        RetentionSweeper,
        EventInbox,
        ConsumerMetrics,
      ],
    };
  }
}
