import { priceTableFrom } from '#groq-batch';
import { type FactoryProvider, Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { SubmissionEnv } from '../pipeline-settings.js';
import { QuotaGuard } from './quota-guard.js';
import { quotaStoreFrom } from './quota-store.js';

export function quotaGuardFrom(env: SubmissionEnv, dataSource: DataSource): QuotaGuard {
  return new QuotaGuard(
    quotaStoreFrom(env.REDIS_URL, env.QUOTA_KEY_PREFIX),
    {
      limits: env.MODEL_QUOTAS_JSON,
      dailyTokenBudget: env.DAILY_TOKEN_BUDGET,
      dailySpendBudgetUsd: env.DAILY_SPEND_BUDGET_USD,
      prices: priceTableFrom(env.MODEL_PRICES_JSON),
    },
    dataSource,
  );
}

export function quotaGuardProvider(env: SubmissionEnv): FactoryProvider<QuotaGuard> {
  return { provide: QuotaGuard, inject: [DataSource], useFactory: (dataSource: DataSource) => quotaGuardFrom(env, dataSource) };
}

/** Closes the quota store's Redis connection with the app. */
@Injectable()
export class QuotaLifecycle implements OnApplicationShutdown {
  constructor(@Inject(QuotaGuard) private readonly quota: QuotaGuard) {}

  async onApplicationShutdown(): Promise<void> {
    await this.quota.store.close();
  }
}
