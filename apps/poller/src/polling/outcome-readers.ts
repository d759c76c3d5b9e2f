import { anthropicClientFrom, batchProvidersFrom, databaseRecords, groqClientFrom, openAiClientFrom, type ProviderName, ProviderSet, type SubmissionEnv } from '#batching';
import { type PriceTable, type PromptRegistry } from '#groq-batch';
import type { DataSource } from 'typeorm';
import type { BatchTrackingRepository } from '../tracking/batch-tracking.repository.js';
import type { BatchOutcomeReader, BatchOutcomeReaders } from './batch-outcome.port.js';
import { AnthropicOutcomeReader } from './anthropic-outcome.reader.js';
import { FileBatchOutcomeReader } from './file-batch-outcome.reader.js';
import { StoredRequestPromptEstimator } from './prompt-token.estimator.js';

type NamedReader = BatchOutcomeReader & { readonly name: ProviderName };

/**
 * One outcome reader per provider the services submit to, each estimating billed failed lines from the body
 * its provider was sent (the same line builder the assemblers use).
 */
export function outcomeReadersFrom(
  env: SubmissionEnv,
  prompts: PromptRegistry,
  prices: PriceTable,
  dataSource: DataSource,
  tracking: BatchTrackingRepository,
): BatchOutcomeReaders {
  const readers = batchProvidersFrom(env, prompts, databaseRecords(dataSource))
    .all()
    .map((provider): NamedReader => {
      const estimator = new StoredRequestPromptEstimator(dataSource, tracking, provider.buildLine);
      switch (provider.name) {
        case 'groq':
          return Object.assign(new FileBatchOutcomeReader(groqClientFrom(env), prices, estimator, prompts), { name: provider.name });
        case 'openai':
          return Object.assign(new FileBatchOutcomeReader(openAiClientFrom(env), prices, estimator, prompts), { name: provider.name });
        case 'anthropic':
          return Object.assign(new AnthropicOutcomeReader(anthropicClientFrom(env), prices, estimator, prompts), { name: provider.name });
      }
    });
  return new ProviderSet(readers);
}
