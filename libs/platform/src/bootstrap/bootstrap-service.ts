import type { Topic } from '#contracts';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { KafkaOptions } from '@nestjs/microservices';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import type { z } from 'zod';
import { type BaseServiceEnv, loadServiceConfig, type ServiceConfig, type ServiceIdentity } from '../config/service-config.js';
import { openDatabase } from '../database/data-source.js';
import { RetentionSweeper } from '../database/retention.js';
import { EventInbox } from '../kafka/event-inbox.js';
import { EventPublisher } from '../kafka/event-publisher.service.js';
import { consumerConfigOf, createKafka } from '../kafka/kafka-client.js';
import { OutboxRelay, OutboxRepository } from '../kafka/outbox.js';
import { ensureTopics } from '../kafka/topic-admin.js';
import { PrefixedKafkaServer } from '../kafka/prefixed-kafka-server.js';
import { TopicLimits } from '../kafka/topic-limits.js';
import { checkInboxRetention } from '../kafka/topic-retention.js';
import { allTopicSpecs, topicName } from '../kafka/topic-names.js';
import { registerConsumerLag } from '../metrics/consumer-lag.js';
import { createRootLogger } from '../logging/root-logger.js';
import { hostAllowList } from '../ops/host-allow-list.js';
import { setupOpsDocs } from '../ops/ops-openapi.js';
import { securityHeaders } from '../ops/security-headers.js';
import { ConsumerMetrics } from '../metrics/consumer-metrics.js';
import { registerStorageMetrics } from '../metrics/storage-metrics.js';
import { PlatformModule, type PlatformRuntime } from '../platform.module.js';
import type { TracingHandle } from '../tracing/start-tracing.js';
import { ServiceTracer } from '../tracing/tracing.js';

export interface ServiceDefinition<S extends z.ZodObject> {
  identity: ServiceIdentity;
  /** The service's own environment variables, on top of the shared ones. */
  env: S;
  /** Builds the app module around the shared platform module. */
  module: (platform: DynamicModule, config: ServiceConfig<z.infer<S> & BaseServiceEnv>) => DynamicModule;
  /** The contract topics the service consumes (for its lag metric); none means it runs no consumer. */
  consumes: Topic[];
  /** Those of `consumes` the service reads itself through a `BatchConsumer`: the Nest Kafka transport skips them. */
  consumesInBatches?: Topic[];
  /** Values of the service's own config that are secrets: scrubbed from every log line. */
  secrets?: (config: ServiceConfig<z.infer<S> & BaseServiceEnv>) => Array<string | undefined>;
}

export interface RunningService {
  app: INestApplication;
  runtime: PlatformRuntime;
  url: string;
}

/**
 * Boots one Cascade service as a hybrid Nest app: database created and migrated, topics present,
 * the Kafka consumers (thin `@EventPattern` controllers, or a service's own `BatchConsumer`) and a small HTTP ops server.
 */
export async function bootstrapService<S extends z.ZodObject>(
  definition: ServiceDefinition<S>,
  source: NodeJS.ProcessEnv = process.env,
): Promise<RunningService> {
  const config = loadServiceConfig(definition.identity, definition.env, source);
  const secrets = [config.env.OPS_TOKEN, config.env.OPS_READ_TOKEN, config.env.OTEL_EXPORTER_OTLP_HEADERS, ...(definition.secrets?.(config) ?? [])].filter((s): s is string => !!s);
  const logger = createRootLogger(config.service, config.env.LOG_LEVEL, secrets);

  const dataSource = await openDatabase(config.env.DATABASE_URL, config.env.DATABASE_POOL_SIZE);
  const kafka = createKafka(config.kafka.clientId, config.kafka.brokers, logger.child({ component: 'kafkajs' }));
  const admin = kafka.admin();
  await admin.connect();
  const created = await ensureTopics(
    admin,
    allTopicSpecs(config.kafka.topicPrefix, config.kafka.partitions, config.kafka.topicPartitions),
    config.kafka.replicationFactor,
  );
  if (created.length > 0) logger.info({ topics: created }, 'created topics');
  // The inbox must remember ids for as long as the consumed topics can hand their events back: warn when not.
  const consumed = definition.consumes.map((topic) => topicName(topic, config.kafka.topicPrefix));
  await checkInboxRetention(admin, consumed, config.env.INBOX_RETENTION_DAYS, logger.child({ component: 'retention' }));

  const publisher = new EventPublisher(kafka, config.kafka.topicPrefix);
  await publisher.connect();
  const metrics = new ConsumerMetrics(config.service);
  registerConsumerLag(metrics.registry, admin, config.kafka.groupId, () =>
    definition.consumes.map((topic) => topicName(topic, config.kafka.topicPrefix)),
  );
  registerStorageMetrics(metrics.registry, dataSource);
  const relayLogger = logger.child({ component: 'outbox' });
  const tracer = new ServiceTracer(config.service);
  const relay = new OutboxRelay(dataSource, publisher, new TopicLimits(admin, relayLogger), relayLogger, config.env.OUTBOX_POLL_MS, tracer);
  const runtime: PlatformRuntime = {
    config,
    logger,
    dataSource,
    kafka,
    admin,
    publisher,
    outbox: new OutboxRepository(publisher),
    relay,
    retention: new RetentionSweeper(
      dataSource,
      logger.child({ component: 'retention' }),
      {
        outboxRetentionHours: config.env.OUTBOX_RETENTION_HOURS,
        inboxRetentionDays: config.env.INBOX_RETENTION_DAYS,
        sweepMs: config.env.RETENTION_SWEEP_MS,
      },
      metrics.registry,
    ),
    inbox: new EventInbox(
      dataSource,
      publisher,
      relay,
      logger.child({ component: 'inbox' }),
      metrics,
      config.kafka.groupId,
      config.env.CONSUMER_MAX_HANDLER_ATTEMPTS,
      tracer,
    ),
    metrics,
  };

  const app = await NestFactory.create(definition.module(PlatformModule.forRoot(runtime), config), { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(PinoNestLogger));
  // Before every route (docs included): no framework banner, the security headers, and the Host check of a loopback-bound server.
  (app.getHttpAdapter().getInstance() as { disable(setting: string): void }).disable('x-powered-by');
  app.use(securityHeaders);
  const hostCheck = hostAllowList(config);
  if (hostCheck) app.use(hostCheck);
  setupOpsDocs(app, config);
  const perMessage = definition.consumes.filter((topic) => !definition.consumesInBatches?.includes(topic));
  if (perMessage.length > 0) {
    const transport: Required<KafkaOptions>['options'] = {
      postfixId: '',
      client: {
        clientId: config.kafka.clientId,
        brokers: config.kafka.brokers,
        retry: { initialRetryTime: 200, retries: 10, maxRetryTime: 10_000 },
      },
      consumer: consumerConfigOf(config.kafka),
      subscribe: { fromBeginning: true },
      run: { partitionsConsumedConcurrently: config.kafka.partitionsConsumedConcurrently },
      parser: { keepBinary: true },
    };
    app.connectMicroservice({ strategy: new PrefixedKafkaServer(config.kafka.topicPrefix, transport) }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  await app.listen(config.http.port, config.http.host);
  const address = app.getHttpServer().address() as { port: number } | null;
  const url = `http://${config.http.host}:${address?.port ?? config.http.port}`;
  logger.info({ url, groupId: config.kafka.groupId, brokers: config.kafka.brokers }, `${config.service} ready`);
  return { app, runtime, url };
}

/**
 * Boots (see `launchService`, the entry of every `main.ts`), or prints the reason and exits 1 (a bad variable
 * is named in the message). `tracing`, when on, is flushed after the app closed.
 */
export async function runService<S extends z.ZodObject>(definition: ServiceDefinition<S>, tracing: TracingHandle | null = null): Promise<void> {
  let running: RunningService;
  try {
    running = await bootstrapService(definition);
  } catch (error) {
    process.stderr.write(`${definition.identity.name} failed to start: ${(error as Error).message}\n`);
    await tracing?.shutdown().catch(() => undefined);
    process.exit(1);
  }
  // Nest's own shutdown hooks re-raise the signal (exit 143); an orderly stop should exit 0.
  // Order: stop consuming and wait for in-flight handlers, publish the outbox, close producer and pool.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    running.runtime.logger.info({ signal }, 'stopping');
    const force = setTimeout(() => {
      running.runtime.logger.error('shutdown took more than 30 s; exiting anyway');
      process.exit(1);
    }, 30_000);
    force.unref();
    running.app
      .close()
      .then(() => tracing?.shutdown().catch((error: unknown) => running.runtime.logger.warn({ err: error }, 'exporting the last spans failed')))
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        running.runtime.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
