import { Topic } from '#contracts';
import { AssemblerLifecycle, batchAssemblerProvider, submissionEnv, QuotaLifecycle, quotaGuardProvider, providerSecrets } from '#batching';
import type { ServiceDefinition } from '#platform';
import { Module } from '@nestjs/common';
import { z } from 'zod';
import { FailureRepository } from './retry/failure.repository.js';
import { RequestsFailedController } from './retry/requests-failed.controller.js';
import { RETRY_POLICY, RetryService } from './retry/retry.service.js';
import { retryServiceIdentity } from './retry-service.identity.js';

@Module({})
export class RetryServiceModule {}

export const retryServiceEnv = submissionEnv.extend({
  MAX_TOKENS_GROWTH: z.coerce.number().min(1).default(2),
});

export const retryServiceDefinition: ServiceDefinition<typeof retryServiceEnv> = {
  identity: retryServiceIdentity,
  env: retryServiceEnv,
  consumes: [Topic.RequestsFailed],
  secrets: (config) => providerSecrets(config.env),
  module: (platform, config) => ({
    module: RetryServiceModule,
    imports: [platform],
    controllers: [RequestsFailedController],
    providers: [
      {
        provide: RETRY_POLICY,
        useValue: {
          modelChain: config.env.MODEL_CHAIN,
          maxAttempts: config.env.MAX_ATTEMPTS,
          maxTokensGrowth: config.env.MAX_TOKENS_GROWTH,
          maxTokensCeiling: config.env.MAX_TOKENS_CEILING,
        },
      },
      FailureRepository,
      RetryService,
      // Every pass after the first goes back through the Batch API from here.
      batchAssemblerProvider(config.env, { minPass: 2, maxPass: 1_000 }, 'retry-service'),
      AssemblerLifecycle,
      quotaGuardProvider(config.env),
      QuotaLifecycle,
    ],
  }),
};
