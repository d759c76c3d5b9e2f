import { type FieldKind, parseFields, parsePrices, providerPrices, type SimulatorFaults } from '../../groq-simulator/src/options.js';
import type { ModelPrice } from '../../groq-simulator/src/stats.js';

export { parsePrices };

/** Per-model behaviour of the simulated Claude models: how often requests go wrong, how, and the model's limits. */
export interface AnthropicModelProfile {
  /** Share of requests whose generation goes wrong: an unusable answer (without structured outputs) or an over-long one. */
  failureRate: number;
  /** Of those, the share that is an unusable answer (non-JSON or off-schema); the rest need more output than usual. */
  invalidOutputShare: number;
  /** Share of valid-JSON answers that break the schema, without structured outputs only. */
  schemaViolationRate: number;
  /** Share of requests the model declines (`stop_reason: "refusal"`). */
  refusalRate: number;
  /** Per-request `api_error` / `overloaded_error`; decided per attempt, so a retry usually goes through. */
  serverErrorRate: number;
  /** Share of valid answers with a non-empty list that name one item twice. */
  repeatedItemRate: number;
  /** Share of valid answers whose `summary` is an empty string. */
  emptySummaryRate: number;
  /** Context window in tokens; a longer prompt is an `invalid_request_error`. */
  contextTokens: number;
  /** Largest `max_tokens` the model accepts. */
  maxOutputTokens: number;
  /** Whether `output_config.format` (structured outputs) is accepted. */
  supportsStructuredOutputs: boolean;
  /** Mean length of an answer that needs more room than usual. */
  longOutputTokens: number;
}

/** The Groq simulator's faults that mean the same thing here, plus Anthropic's own. */
export type AnthropicSimulatorFaults = Pick<
  SimulatorFaults,
  | 'shuffle'
  | 'missingRate'
  | 'malformedRate'
  | 'rateLimitFirst'
  | 'rateLimitRoute'
  | 'rateLimitRetryAfterMs'
  | 'serverErrorsFirst'
  | 'responseDelayMs'
  | 'expireAfterFraction'
  | 'dropCreateResponses'
  | 'createErrorsAfterWorkFirst'
  | 'listDelayMs'
> & {
  /** Answer the first N results downloads with 529 `overloaded_error`. */
  resultsErrorsFirst: number;
  /** Answer retrieve and results with 404 for a batch younger than this many ms (by `clock`): the documented quirk right after create. */
  notFoundAfterCreateMs: number;
};

export interface AnthropicSimulatorOptions {
  host: string;
  /** 0: a free port chosen by the OS. */
  port: number;
  seed: number;
  /** Time before a new batch starts processing, before it ends, and spent in `canceling`. */
  stageDelayMs: number;
  /** Processing time per request (0: as fast as possible). */
  perLineDelayMs: number;
  /** Processing rate cap in requests per second (null: no cap); the slower of this and perLineDelayMs wins. */
  linesPerSecond: number | null;
  /** Requests handled between two yields to the event loop when running at full speed. */
  chunkLines: number;
  /** Results held back at most when shuffling. */
  shuffleWindowLines: number;
  /** Requests per batch (Anthropic: 100,000). */
  maxRequestsPerBatch: number;
  /** Largest create body (Anthropic: 256 MB); larger answers 413 `request_too_large`. */
  maxBodyBytes: number;
  /** Unix time in ms; injectable so tests can move past `expires_at`. */
  clock: () => number;
  profiles: Record<string, AnthropicModelProfile>;
  /** Batch prices per model (USD per 1M tokens) the billed account is priced at. */
  prices: Record<string, ModelPrice>;
  faults: AnthropicSimulatorFaults;
}

/** A small model that sometimes answers off-format when not held to a schema. */
export const CHEAP_CLAUDE_PROFILE: AnthropicModelProfile = {
  failureRate: 0.04,
  invalidOutputShare: 0.9,
  schemaViolationRate: 0.01,
  refusalRate: 0.002,
  serverErrorRate: 0.002,
  repeatedItemRate: 0.05,
  emptySummaryRate: 0.005,
  contextTokens: 200_000,
  maxOutputTokens: 64_000,
  supportsStructuredOutputs: true,
  longOutputTokens: 1_400,
};

export const STRONG_CLAUDE_PROFILE: AnthropicModelProfile = {
  ...CHEAP_CLAUDE_PROFILE,
  failureRate: 0.005,
  invalidOutputShare: 0,
  schemaViolationRate: 0,
  refusalRate: 0.001,
  repeatedItemRate: 0,
  emptySummaryRate: 0,
};

/** Claude batch prices from Cascade's table (50 % of the standard per-token prices, as published in Oct 2025). */
export function defaultPrices(): Record<string, ModelPrice> {
  return providerPrices('anthropic');
}

/** The models this simulator knows; any other is an `invalid_request_error` result (add one with `setProfile`). */
export function defaultProfiles(): Record<string, AnthropicModelProfile> {
  return {
    'claude-haiku-4-5': { ...CHEAP_CLAUDE_PROFILE },
    'claude-sonnet-4-5': { ...STRONG_CLAUDE_PROFILE },
    'claude-opus-4-1': { ...STRONG_CLAUDE_PROFILE, failureRate: 0, maxOutputTokens: 32_000 },
  };
}

export const NO_FAULTS: AnthropicSimulatorFaults = {
  shuffle: false,
  missingRate: 0,
  malformedRate: 0,
  rateLimitFirst: 0,
  rateLimitRoute: null,
  rateLimitRetryAfterMs: 200,
  serverErrorsFirst: 0,
  responseDelayMs: 0,
  expireAfterFraction: null,
  dropCreateResponses: 0,
  createErrorsAfterWorkFirst: 0,
  listDelayMs: 0,
  resultsErrorsFirst: 0,
  notFoundAfterCreateMs: 0,
};

export const DEFAULT_SIMULATOR_OPTIONS: Readonly<AnthropicSimulatorOptions> = {
  host: '127.0.0.1',
  port: 0,
  seed: 42,
  stageDelayMs: 0,
  perLineDelayMs: 0,
  linesPerSecond: null,
  chunkLines: 256,
  shuffleWindowLines: 2_048,
  maxRequestsPerBatch: 100_000,
  maxBodyBytes: 256 * 1024 * 1024,
  clock: () => Date.now(),
  profiles: defaultProfiles(),
  prices: defaultPrices(),
  faults: NO_FAULTS,
};

/** Full options from a partial set: profiles, prices and faults are merged key by key, never shared. */
export function resolveOptions(overrides: Partial<AnthropicSimulatorOptions> = {}): AnthropicSimulatorOptions {
  const profiles = defaultProfiles();
  for (const [model, profile] of Object.entries(overrides.profiles ?? {})) {
    profiles[model] = { ...(profiles[model] ?? STRONG_CLAUDE_PROFILE), ...profile };
  }
  return {
    ...DEFAULT_SIMULATOR_OPTIONS,
    ...overrides,
    profiles,
    prices: { ...defaultPrices(), ...overrides.prices },
    faults: { ...NO_FAULTS, ...overrides.faults },
  };
}

const FAULT_FIELDS: Record<keyof AnthropicSimulatorFaults, FieldKind> = {
  shuffle: 'boolean',
  missingRate: 'number',
  malformedRate: 'number',
  rateLimitFirst: 'number',
  rateLimitRoute: 'string|null',
  rateLimitRetryAfterMs: 'number',
  serverErrorsFirst: 'number',
  responseDelayMs: 'number',
  expireAfterFraction: 'number|null',
  dropCreateResponses: 'number',
  createErrorsAfterWorkFirst: 'number',
  listDelayMs: 'number',
  resultsErrorsFirst: 'number',
  notFoundAfterCreateMs: 'number',
};

const PROFILE_FIELDS: Record<keyof AnthropicModelProfile, FieldKind> = {
  failureRate: 'number',
  invalidOutputShare: 'number',
  schemaViolationRate: 'number',
  refusalRate: 'number',
  serverErrorRate: 'number',
  repeatedItemRate: 'number',
  emptySummaryRate: 'number',
  contextTokens: 'number',
  maxOutputTokens: 'number',
  supportsStructuredOutputs: 'boolean',
  longOutputTokens: 'number',
};

/** Checks faults that come from outside the process (control route, CLI, environment). */
export function parseFaults(input: unknown): Partial<AnthropicSimulatorFaults> {
  return parseFields<AnthropicSimulatorFaults>('fault', FAULT_FIELDS, input);
}

/** Checks a partial model profile that comes from outside the process. */
export function parseProfile(input: unknown): Partial<AnthropicModelProfile> {
  return parseFields<AnthropicModelProfile>('profile', PROFILE_FIELDS, input);
}
