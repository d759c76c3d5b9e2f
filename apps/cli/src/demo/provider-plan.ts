import { API_KEY_VARIABLE, modelEntryProblem, modelRefOf, type ProviderName, providersOf } from '#batching';

/** How the local stack reaches one provider of the chain: its real Batch API (its key is set) or its local simulator. */
export interface ProviderRoute {
  provider: ProviderName;
  simulated: boolean;
  /** The variable whose absence makes it simulated. */
  keyVariable: string;
}

/**
 * `--chain groq:openai/gpt-oss-20b,anthropic:claude-haiku-4-5` as the services read MODEL_CHAIN (comma-separated,
 * trimmed, each entry checked by `modelEntryProblem`), returned as model ids (`modelRefOf`). An error names the
 * flag and the entry at fault.
 */
export function parseChain(flag: string, value: string): string[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error(`${flag} must name at least one model, as provider:model (e.g. groq:openai/gpt-oss-20b), got "${value}"`);
  for (const entry of entries) {
    const problem = modelEntryProblem(entry);
    if (problem) throw new Error(`${flag}: ${problem}`);
  }
  return entries.map((entry) => modelRefOf(entry).id);
}

/**
 * The one rule for which simulators the local stack starts: each provider the chain names runs on its local
 * simulator when its API key is not set, and on its real Batch API when it is. Providers the chain does not
 * name are left as the environment has them.
 */
export function providerRoutes(chain: readonly string[], keys: Partial<Record<string, unknown>>): ProviderRoute[] {
  return providersOf(chain).map((provider) => {
    const keyVariable = API_KEY_VARIABLE[provider];
    return { provider, simulated: !keys[keyVariable], keyVariable };
  });
}
