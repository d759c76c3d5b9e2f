import { Topic } from '#contracts';
import { deadlineEnv, deadlineSettingsFrom, promptRegistryFrom, QuotaLifecycle, quotaGuardProvider, strongModelOf, submissionEnv, providerSecrets } from '#batching';
import { onDemandPriceTable, priceTableFrom } from '#groq-batch';
import { consumerGroupOf, type ServiceDefinition, topicName } from '#platform';
import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { DeadlineRepository } from './deadlines/deadline.repository.js';
import { DEADLINE_SETTINGS, DeadlineService, ON_DEMAND_ANSWERERS, ON_DEMAND_CONTEXT } from './deadlines/deadline.service.js';
import { onDemandAnswerersFrom } from './deadlines/on-demand-answerers.js';
import { PIPELINE_METRICS_SETTINGS, PipelineMetrics, type PipelineMetricsSettings } from './metrics/pipeline-metrics.js';
import { BatchesController } from './ops/batches.controller.js';
import { DashboardController } from './ops/dashboard.controller.js';
import { DeadlinesController } from './ops/deadlines.controller.js';
import { OperationsController } from './ops/operations.controller.js';
import { OPS_SETTINGS, type OpsSettings } from './ops/ops-settings.js';
import { RequestsController } from './ops/requests.controller.js';
import { BATCH_OUTCOME_READERS } from './polling/batch-outcome.port.js';
import { outcomeReadersFrom } from './polling/outcome-readers.js';
import { POLLER_SETTINGS, PollerService } from './polling/poller.service.js';
import { BatchSubmittedController } from './tracking/batch-submitted.controller.js';
import { BatchTrackingRepository } from './tracking/batch-tracking.repository.js';
import { pollerIdentity } from './poller.identity.js';

@Module({})
export class PollerModule {}

/** Each service's consumer group and what it reads (as in each service's definition), for the dashboard's lag. */
const CONSUMED_TOPICS: Record<string, Topic[]> = {
  'batch-submitter': [Topic.PrIngested, Topic.PrReplayed],
  poller: [Topic.BatchSubmitted],
  'retry-service': [Topic.RequestsFailed],
  'result-writer': [Topic.BatchCompleted, Topic.RequestsFailedPermanently, Topic.RequestsSettled],
};

const positiveInt = z.coerce.number().int().positive();

export const pollerEnv = submissionEnv.extend({
  POLL_TICK_MS: positiveInt.default(1_000),
  POLL_CONCURRENCY: positiveInt.default(4),
  POLL_FIRST_DELAY_MS: positiveInt.default(5_000),
  POLL_MAX_DELAY_MS: positiveInt.default(300_000),
  /** A poll's lease, renewed every third of it while the poll works: a dead holder's batch is free within it. */
  POLL_LEASE_MS: positiveInt.default(30_000),
  /** A batch whose input file could not be deleted is tried again once finished this long, by a sweep run at most this often. */
  POLL_INPUT_CLEANUP_RETRY_MS: positiveInt.default(60_000),
  /** Show the stored PR text in `GET /requests/{id}` (off: PR text is untrusted and may be confidential). */
  OPS_SHOW_PR_TEXT: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
}).extend(deadlineEnv.shape);

export const pollerDefinition: ServiceDefinition<typeof pollerEnv> = {
  identity: pollerIdentity,
  env: pollerEnv,
  consumes: [Topic.BatchSubmitted],
  secrets: (config) => providerSecrets(config.env),
  module: (platform, config) => ({
    module: PollerModule,
    imports: [platform],
    controllers: [BatchSubmittedController, BatchesController, RequestsController, OperationsController, DashboardController, DeadlinesController],
    providers: [
      BatchTrackingRepository,
      {
        provide: BATCH_OUTCOME_READERS,
        inject: [DataSource, BatchTrackingRepository],
        useFactory: (dataSource: DataSource, tracking: BatchTrackingRepository) =>
          outcomeReadersFrom(config.env, promptRegistryFrom(config.env), priceTableFrom(config.env.MODEL_PRICES_JSON), dataSource, tracking),
      },
      {
        provide: POLLER_SETTINGS,
        useValue: {
          tickMs: config.env.POLL_TICK_MS,
          concurrency: config.env.POLL_CONCURRENCY,
          leaseMs: config.env.POLL_LEASE_MS,
          firstPollDelayMs: config.env.POLL_FIRST_DELAY_MS,
          maxPollDelayMs: config.env.POLL_MAX_DELAY_MS,
          stageDeadlineMs: config.env.STAGE_DEADLINE_MS,
          inputCleanupRetryMs: config.env.POLL_INPUT_CLEANUP_RETRY_MS,
          autoStart: true,
        },
      },
      PollerService,
      DeadlineRepository,
      { provide: DEADLINE_SETTINGS, useValue: deadlineSettingsFrom(config.env) },
      {
        provide: ON_DEMAND_ANSWERERS,
        inject: [DataSource],
        useFactory: (dataSource: DataSource) => onDemandAnswerersFrom(config.env, promptRegistryFrom(config.env), dataSource),
      },
      { provide: ON_DEMAND_CONTEXT, useValue: { prices: onDemandPriceTable(priceTableFrom(config.env.MODEL_PRICES_JSON)) } },
      DeadlineService,
      {
        provide: PIPELINE_METRICS_SETTINGS,
        useValue: {
          modelChain: config.env.MODEL_CHAIN,
          stageDeadlineMs: config.env.STAGE_DEADLINE_MS,
          strandedAfterMs: config.env.STRANDED_AFTER_MS,
          dailySpendBudgetUsd: config.env.DAILY_SPEND_BUDGET_USD,
          groqCompletionWindow: config.env.GROQ_COMPLETION_WINDOW,
          cacheMs: 5_000,
        } satisfies PipelineMetricsSettings,
      },
      PipelineMetrics,
      quotaGuardProvider(config.env),
      QuotaLifecycle,
      {
        provide: OPS_SETTINGS,
        useValue: {
          modelChain: config.env.MODEL_CHAIN,
          cacheTtlHours: config.env.CACHE_TTL_HOURS,
          showPrText: config.env.OPS_SHOW_PR_TEXT,
          stageDeadlineMs: config.env.STAGE_DEADLINE_MS,
          strandedAfterMs: config.env.STRANDED_AFTER_MS,
          defaultPromptVersion: config.env.PROMPT_VERSION,
          strongModel: strongModelOf(config.env),
          modelPrices: config.env.MODEL_PRICES_JSON,
          topicPrefix: config.kafka.topicPrefix,
          groups: Object.entries(CONSUMED_TOPICS).map(([service, topics]) => ({
            service,
            groupId: consumerGroupOf(service, config.kafka.topicPrefix),
            topics: topics.map((topic) => topicName(topic, config.kafka.topicPrefix)),
          })),
        } satisfies OpsSettings,
      },
    ],
  }),
};
