import { OutboxRelay, OutboxRepository, ROOT_LOGGER } from '#platform';
import type { FactoryProvider } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { BatchAssembler } from './batch-assembler.js';
import { batchProvidersFrom } from './providers/provider-factory.js';
import { databaseRecords } from './providers/provider-records.js';
import { QuotaGuard } from './quota/quota-guard.js';
import { assemblerSettingsFrom, promptRegistryFrom, type SubmissionEnv } from './pipeline-settings.js';

/** The assembler of a service (needs `quotaGuardProvider(env)` and `QuotaLifecycle` beside it) that submits the given passes to each model's provider. */
export function batchAssemblerProvider(env: SubmissionEnv, passes: { minPass: number; maxPass: number }, producer: string): FactoryProvider<BatchAssembler> {
  const prompts = promptRegistryFrom(env);
  return {
    provide: BatchAssembler,
    inject: [DataSource, OutboxRepository, OutboxRelay, ROOT_LOGGER, QuotaGuard],
    useFactory: (dataSource: DataSource, outbox: OutboxRepository, relay: OutboxRelay, logger: Logger, quota: QuotaGuard) =>
      new BatchAssembler(
        dataSource,
        batchProvidersFrom(env, prompts, databaseRecords(dataSource)),
        outbox,
        relay,
        logger.child({ component: 'assembler' }),
        assemblerSettingsFrom(env, passes, producer),
        quota,
      ),
  };
}
