import type { PromptRegistry } from '#groq-batch';
import { GroqSubmissionProvider, groqClientFrom, prAnalysisLineBuilder } from '../groq-provider.js';
import type { SubmissionEnv } from '../pipeline-settings.js';
import type { ProviderName } from './model-ref.js';
import { type BatchProvider, configuredProviders, PROVIDER_BATCH_LIMITS, ProviderSet } from './provider-set.js';

/** The providers this service submits to and sweeps: each provider of MODEL_CHAIN, and any other whose key is set. */
export function batchProvidersFrom(env: SubmissionEnv, prompts: PromptRegistry): ProviderSet {
  return new ProviderSet(configuredProviders(env).map((name) => batchProviderOf(name, env, prompts)));
}

function batchProviderOf(name: ProviderName, env: SubmissionEnv, prompts: PromptRegistry): BatchProvider {
  const limits = PROVIDER_BATCH_LIMITS[name];
  const fileLimits = { maxLines: Math.min(limits.maxLines, env.BATCH_MAX_LINES), maxBytes: Math.min(limits.maxBytes, env.BATCH_MAX_BYTES) };
  switch (name) {
    case 'groq':
      return { name, limits, port: new GroqSubmissionProvider(groqClientFrom(env), fileLimits), buildLine: prAnalysisLineBuilder(prompts) };
    case 'openai':
    case 'anthropic':
      throw new Error(`the ${name} provider is not available yet`);
  }
}
