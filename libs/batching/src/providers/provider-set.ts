import { completionWindowHours, DEFAULT_OPENAI_BATCH_CONFIG } from '#groq-batch';
import { ConfigError } from '#platform';
import type { LineBuilder } from '../batch-assembler.js';
import type { BatchProviderPort } from '../provider-port.js';
import { modelRefOf, type ProviderName, PROVIDERS, providersOf } from './model-ref.js';

/** The most one batch may hold. */
export interface BatchLimits {
  maxLines: number;
  maxBytes: number;
}

/**
 * Each provider's own ceiling on one batch (its documented limits), before BATCH_MAX_LINES and
 * BATCH_MAX_BYTES lower them. Groq and OpenAI: 50,000 requests in one input file of at most 200 MB
 * (Groq's batch guide; its SDK's docstring says 100 MB, so BATCH_MAX_BYTES defaults to that safe reading
 * and may be raised to the guide's figure); Anthropic: 100,000 requests or 256 MB per create.
 */
export const PROVIDER_BATCH_LIMITS: Readonly<Record<ProviderName, BatchLimits>> = {
  groq: { maxLines: 50_000, maxBytes: 200_000_000 },
  openai: { maxLines: 50_000, maxBytes: 200_000_000 },
  anthropic: { maxLines: 100_000, maxBytes: 256_000_000 },
};

/** Anthropic ends a message batch 24 hours after it was created (there is no window to choose). */
const ANTHROPIC_BATCH_EXPIRY_HOURS = 24;

/**
 * How long each provider has to finish one of our batches, in hours: the window asked of Groq
 * (GROQ_COMPLETION_WINDOW), OpenAI's only window, Anthropic's expiry. A batch still open past it is overdue.
 */
export function completionWindowHoursOf(env: { GROQ_COMPLETION_WINDOW: string }): Readonly<Record<ProviderName, number>> {
  return {
    groq: completionWindowHours(env.GROQ_COMPLETION_WINDOW),
    openai: completionWindowHours(DEFAULT_OPENAI_BATCH_CONFIG.completionWindow),
    anthropic: ANTHROPIC_BATCH_EXPIRY_HOURS,
  };
}

/** The variable that holds each provider's API key. */
export const API_KEY_VARIABLE: Readonly<Record<ProviderName, string>> = {
  groq: 'GROQ_API_KEY',
  openai: 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
};

/** One provider as submission uses it: its API, how a stored request becomes one of its lines, how big a batch may be. */
export interface BatchProvider {
  readonly name: ProviderName;
  readonly port: BatchProviderPort;
  readonly buildLine: LineBuilder;
  readonly limits: BatchLimits;
}

/** The providers a service can reach, found by model id (`modelRefOf`). */
export class ProviderSet<P extends { readonly name: ProviderName } = BatchProvider> {
  private readonly byName: ReadonlyMap<ProviderName, P>;

  constructor(providers: readonly P[]) {
    this.byName = new Map(providers.map((provider) => [provider.name, provider]));
  }

  /** The provider of a model id; throws naming the model and the missing key when it is not configured. */
  for(model: string): P {
    const { provider } = modelRefOf(model);
    const found = this.byName.get(provider);
    if (!found) throw new Error(`model ${model} is on ${provider}, which is not configured here: set ${API_KEY_VARIABLE[provider]}`);
    return found;
  }

  all(): P[] {
    return [...this.byName.values()];
  }
}

/** The smaller of the provider's ceiling and the configured one, field by field. */
export function limitsWithin(provider: ProviderName, configured: BatchLimits): BatchLimits {
  const ceiling = PROVIDER_BATCH_LIMITS[provider];
  return { maxLines: Math.min(ceiling.maxLines, configured.maxLines), maxBytes: Math.min(ceiling.maxBytes, configured.maxBytes) };
}

/**
 * The providers to build at boot: every provider of MODEL_CHAIN (its key is required: a missing one stops the
 * service naming the variable), and any other whose key is set, so batches submitted before the chain changed
 * are still read, swept and reconciled.
 */
export function configuredProviders(env: { MODEL_CHAIN: readonly string[] } & Partial<Record<string, unknown>>): ProviderName[] {
  const chained = providersOf(env.MODEL_CHAIN);
  for (const provider of chained) {
    if (!env[API_KEY_VARIABLE[provider]]) {
      const model = env.MODEL_CHAIN.find((m) => modelRefOf(m).provider === provider)!;
      throw new ConfigError(API_KEY_VARIABLE[provider], `is required: MODEL_CHAIN names ${model}`);
    }
  }
  return PROVIDERS.filter((provider) => chained.includes(provider) || Boolean(env[API_KEY_VARIABLE[provider]]));
}

/** Every provider API key set: scrubbed from each log line and error. */
export function providerSecrets(env: Partial<Record<string, unknown>>): string[] {
  return PROVIDERS.map((provider) => env[API_KEY_VARIABLE[provider]]).filter((key): key is string => typeof key === 'string' && key !== '');
}
