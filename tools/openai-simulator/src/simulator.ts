import { type GroqSimulator, type SimulatorOptions, startGroqSimulator } from '../../groq-simulator/src/simulator.js';

export * from '../../groq-simulator/src/simulator.js';

/** The shared simulator speaking OpenAI's Batch API: give `baseURL` (the URL plus `/v1`) to the openai SDK. */
export type OpenAiSimulator = GroqSimulator;

/**
 * Starts the shared Files + Batches simulator (tools/groq-simulator) with `api: 'openai'`: OpenAI's
 * routes, list paging, `24h` window, line shapes and models. Options are the shared ones; `api` is fixed.
 */
export function startOpenAiSimulator(options: Partial<Omit<SimulatorOptions, 'api'>> = {}): Promise<OpenAiSimulator> {
  return startGroqSimulator({ ...options, api: 'openai' });
}
