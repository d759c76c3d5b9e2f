/** The batch providers Cascade submits to. */
export const PROVIDERS = ['groq', 'openai', 'anthropic'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/**
 * A model as the pipeline knows it. `id` is what is stored with every batch, attempt and result, keys the
 * price table and the quotas, and goes into the batch key: the plain model name on Groq (as before there was
 * more than one provider, so stored history keeps its meaning), `provider:name` elsewhere. `name` is what
 * the provider is sent.
 */
export interface ModelRef {
  provider: ProviderName;
  name: string;
  id: string;
}

const QUALIFIED = /^([a-z][a-z0-9-]*):(.+)$/;

/** Why `entry` is not a model of MODEL_CHAIN, or null when it is one. */
export function modelEntryProblem(entry: string): string | null {
  const qualified = QUALIFIED.exec(entry);
  if (qualified && !(PROVIDERS as readonly string[]).includes(qualified[1]!)) {
    return `${entry} names provider ${qualified[1]}; the providers are ${PROVIDERS.join(', ')} (a plain model name means groq)`;
  }
  if (qualified && qualified[2]!.trim() !== qualified[2]) return `${entry}: the model name after the provider has spaces around it`;
  return null;
}

/** `openai:gpt-4.1-mini` → openai's gpt-4.1-mini; `groq:x` and a plain `x` → Groq's x, stored as `x`. */
export function modelRefOf(entry: string): ModelRef {
  const problem = modelEntryProblem(entry);
  if (problem) throw new Error(problem);
  const qualified = QUALIFIED.exec(entry);
  if (!qualified || qualified[1] === 'groq') {
    const name = qualified ? qualified[2]! : entry;
    return { provider: 'groq', name, id: name };
  }
  return { provider: qualified[1] as ProviderName, name: qualified[2]!, id: entry };
}

/** The providers a chain of model ids uses, in chain order, each once. */
export function providersOf(models: readonly string[]): ProviderName[] {
  return [...new Set(models.map((model) => modelRefOf(model).provider))];
}
