import { OutboxRelay, OutboxRepository, ROOT_LOGGER } from '#platform';
import type { FactoryProvider } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { BatchAssembler } from './batch-assembler.js';
import { GroqSubmissionProvider, groqClientFrom, prAnalysisLineBuilder } from './groq-provider.js';
import { QuotaGuard } from './quota/quota-guard.js';
import { assemblerSettingsFrom, promptRegistryFrom, type SubmissionEnv } from './pipeline-settings.js';

/** The assembler of a service (needs `quotaGuardProvider(env)` and `QuotaLifecycle` beside it) that submits the given passes through the Groq Batch API. */
export function batchAssemblerProvider(env: SubmissionEnv, passes: { minPass: number; maxPass: number }, producer: string): FactoryProvider<BatchAssembler> {
  const prompts = promptRegistryFrom(env);
  return {
    provide: BatchAssembler,
    inject: [DataSource, OutboxRepository, OutboxRelay, ROOT_LOGGER, QuotaGuard],
    useFactory: (dataSource: DataSource, outbox: OutboxRepository, relay: OutboxRelay, logger: Logger, quota: QuotaGuard) =>
      new BatchAssembler(
        dataSource,
        new GroqSubmissionProvider(groqClientFrom(env), { maxLines: env.BATCH_MAX_LINES, maxBytes: env.BATCH_MAX_BYTES }),
        prAnalysisLineBuilder(prompts),
        outbox,
        relay,
        logger.child({ component: 'assembler' }),
        assemblerSettingsFrom(env, passes, producer),
        quota,
      ),
  };
}
