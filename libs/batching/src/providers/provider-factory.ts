import type { PromptRegistry } from '#groq-batch';
import { anthropicClientFrom, anthropicLineBuilder, AnthropicSubmissionProvider } from '../anthropic-provider.js';
import { FileBatchSubmissionProvider, groqClientFrom, openAiClientFrom, openAiLineBuilder, prAnalysisLineBuilder } from '../groq-provider.js';
import type { SubmissionEnv } from '../pipeline-settings.js';
import type { ProviderName } from './model-ref.js';
import type { ProviderRecords } from './provider-records.js';
import { type BatchProvider, configuredProviders, PROVIDER_BATCH_LIMITS, ProviderSet } from './provider-set.js';

/**
 * The providers this service submits to and sweeps: each provider of MODEL_CHAIN, and any other whose key is
 * set. `records` is how Anthropic, whose batches carry no metadata, recognises ours (the database).
 */
export function batchProvidersFrom(env: SubmissionEnv, prompts: PromptRegistry, records: ProviderRecords): ProviderSet {
  return new ProviderSet(configuredProviders(env).map((name) => batchProviderOf(name, env, prompts, records)));
}

function batchProviderOf(name: ProviderName, env: SubmissionEnv, prompts: PromptRegistry, records: ProviderRecords): BatchProvider {
  const limits = PROVIDER_BATCH_LIMITS[name];
  const fileLimits = { maxLines: Math.min(limits.maxLines, env.BATCH_MAX_LINES), maxBytes: Math.min(limits.maxBytes, env.BATCH_MAX_BYTES) };
  switch (name) {
    case 'groq':
      return { name, limits, port: new FileBatchSubmissionProvider(groqClientFrom(env), fileLimits), buildLine: prAnalysisLineBuilder(prompts) };
    case 'openai':
      return { name, limits, port: new FileBatchSubmissionProvider(openAiClientFrom(env), fileLimits), buildLine: openAiLineBuilder(prompts) };
    case 'anthropic':
      return { name, limits, port: new AnthropicSubmissionProvider(anthropicClientFrom(env), records), buildLine: anthropicLineBuilder(prompts) };
  }
}
