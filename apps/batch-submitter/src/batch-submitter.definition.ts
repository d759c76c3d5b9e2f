import { Topic } from '#contracts';
import { AssemblerLifecycle, batchAssemblerProvider, QuotaLifecycle, quotaGuardProvider, providerSecrets } from '#batching';
import type { ServiceDefinition } from '#platform';
import { RouterRepository } from '#routing';
import { Module } from '@nestjs/common';
import { batchSubmitterEnv, SUBMITTER_SETTINGS, submitterSettingsFrom } from './batch-submitter.settings.js';
import { IngestionService } from './ingestion/ingestion.service.js';
import { PrIngestedConsumer } from './ingestion/pr-ingested.consumer.js';
import { RequestRepository } from './ingestion/request.repository.js';
import { RoutingService } from './ingestion/routing.service.js';
import { batchSubmitterIdentity } from './batch-submitter.identity.js';

@Module({})
export class BatchSubmitterModule {}

export const batchSubmitterService: ServiceDefinition<typeof batchSubmitterEnv> = {
  identity: batchSubmitterIdentity,
  env: batchSubmitterEnv,
  consumes: [Topic.PrIngested, Topic.PrReplayed],
  consumesInBatches: [Topic.PrIngested, Topic.PrReplayed],
  secrets: (config) => providerSecrets(config.env),
  module: (platform, config) => ({
    module: BatchSubmitterModule,
    imports: [platform],
    providers: [
      { provide: SUBMITTER_SETTINGS, useValue: submitterSettingsFrom(config.env) },
      RequestRepository,
      { provide: RouterRepository, useValue: new RouterRepository() },
      RoutingService,
      IngestionService,
      PrIngestedConsumer,
      // Pass 1 only: later passes are the retry-service's.
      batchAssemblerProvider(config.env, { minPass: 1, maxPass: 1 }, 'batch-submitter'),
      AssemblerLifecycle,
      quotaGuardProvider(config.env),
      QuotaLifecycle,
    ],
  }),
};
