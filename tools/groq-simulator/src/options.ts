import { DEFAULT_PRICE_TABLE } from '../../../libs/groq-batch/src/cost.js';
import type { FailureModel } from './failure-model.js';
import type { ModelPrice } from './stats.js';

/**
 * Which provider's Batch API the simulator speaks. Both are OpenAI-compatible; `openai` serves
 * `/v1/...` instead of `/openai/v1/...`, pages lists OpenAI's way, accepts only the `24h` window, writes
 * OpenAI's line shapes and has OpenAI's models (see `openaiProfiles`).
 */
export type SimulatorApi = 'groq' | 'openai';

/** Per-model behaviour: how often lines fail, how, and the limits the model enforces. */
export interface ModelProfile {
  /** Share of lines whose generation goes wrong (json_validate_failed or output too long). */
  failureRate: number;
  /**
   * `random` (default): each line fails at `failureRate` whatever it reads. `features`: the chance grows
   * with the request's prompt size, code blocks, markup and diff size (see failure-model.ts), around the same rate.
   */
  failureModel?: FailureModel;
  /** Of those, the share that is json_validate_failed; the rest need more output than usual. */
  jsonValidateShare: number;
  /** Occasional per-line 5xx; decided per attempt, so a retry of the same line usually succeeds. */
  serverErrorRate: number;
  /** Share of successful lines that return valid JSON breaking the schema (never in strict mode). */
  schemaViolationRate: number;
  /** Share of valid answers with a non-empty list that name one item twice (the schema sent has no uniqueItems). */
  repeatedItemRate: number;
  /** Share of valid answers whose `summary` is an empty string (the schema sent has no minLength). */
  emptySummaryRate: number;
  /** Share of lines the model refuses (`message.refusal` set, content null): OpenAI models only, 0 on Groq's. */
  refusalRate: number;
  /** Context window in tokens; inputs estimated above it fail with context_length_exceeded. */
  contextTokens: number;
  /** Largest `max_tokens` / `max_completion_tokens` the model accepts. */
  maxCompletionTokens: number;
  /** Whether `json_schema` with `strict: true` is accepted (Groq: the gpt-oss models only). */
  supportsStrict: boolean;
  /** Mean reasoning tokens spent before the answer (gpt-oss reasons; 0 for the Llama models). */
  reasoningTokens: number;
  /** Mean completion length of a line that needs more room than usual (the output-too-long ones). */
  longOutputTokens: number;
}

export interface SimulatorFaults {
  /** Write output and error lines out of input order (bounded window, see `shuffleWindowLines`). */
  shuffle: boolean;
  /** Share of processed lines written to neither file. */
  missingRate: number;
  /** Share of processed lines written as broken JSON. */
  malformedRate: number;
  /** Answer the first N API calls (of `rateLimitRoute`, or of any route when null) with 429. */
  rateLimitFirst: number;
  /** Route key such as `POST /openai/v1/batches` that the 429s apply to; null: every API route. */
  rateLimitRoute: string | null;
  /** The wait announced in `retry-after` (seconds, fractional) with each 429. */
  rateLimitRetryAfterMs: number;
  /** Answer the first N file downloads with 503. */
  downloadErrorsFirst: number;
  /** Answer the first N API calls, on any route, with a 5xx (500, 502 and 503 in turn). */
  serverErrorsFirst: number;
  /** Delay every API response by this many ms. */
  responseDelayMs: number;
  /** Stop processing after this share of lines and mark the batch expired (null: never). */
  expireAfterFraction: number | null;
  /** Whether unfinished lines of expired / cancelled batches appear in the error file (unconfirmed on Groq; OpenAI always writes them). */
  unfinishedInErrorFile: boolean;
  /** Fail every batch at validation. */
  failValidation: boolean;
  /** Create the next N batches, then drop the connection instead of answering. */
  dropCreateResponses: number;
  /** Create the first N valid batches (they run and are billed), then answer 500 instead of the batch. Optional, like the next: full fault sets written before it stay valid. */
  createErrorsAfterWorkFirst: number;
  /** Leave a batch out of the batches list until it is this many ms old (by `clock`); retrieve and cancel see it at once. */
  listDelayMs: number;
}

/**
 * How an output-too-long line is reported, since Groq's exact form is unconfirmed:
 * `error`: a 400 line in the error file with code `max_tokens_exceeded`;
 * `finish_reason_length`: a 200 line in the output file with cut content and `finish_reason: "length"`.
 */
export type OutputTooLongForm = 'error' | 'finish_reason_length';

export interface SimulatorOptions {
  /** The provider API served (default `groq`); fixed for the simulator's life. */
  api: SimulatorApi;
  host: string;
  /** 0: a free port chosen by the OS. */
  port: number;
  seed: number;
  /** Time spent in each of `validating`, `finalizing` and `cancelling` (0: no wait). */
  stageDelayMs: number;
  /** Processing time per line (0: as fast as possible). */
  perLineDelayMs: number;
  /** Processing rate cap in lines per second (null: no cap); the slower of this and perLineDelayMs wins. */
  linesPerSecond: number | null;
  /** Lines handled between two yields to the event loop when running at full speed. */
  chunkLines: number;
  /** Lines held back at most when shuffling (memory stays bounded by it). */
  shuffleWindowLines: number;
  /** Groq only: OpenAI always answers a cut output as a 200 line with `finish_reason: "length"`. */
  outputTooLongAs: OutputTooLongForm;
  /** Lines per input file; more fails validation with `too_many_tasks`. */
  maxLinesPerFile: number;
  /** Largest accepted upload; larger answers 413. */
  maxUploadBytes: number;
  /** Validation errors kept per batch (a broken 50,000-line file must not fill memory). */
  maxValidationErrors: number;
  /** Unix time in ms; injectable so tests can move past `expires_at`. */
  clock: () => number;
  profiles: Record<string, ModelProfile>;
  /** Batch prices per model (USD per 1M tokens) the billed account is priced at; default: Cascade's price table. */
  prices: Record<string, ModelPrice>;
  faults: SimulatorFaults;
}

/**
 * Cascade's default batch prices of one provider, keyed by the provider's own model names, so the
 * simulator's bill and the pipeline's figures are priced alike (Groq's ids are plain names; the others
 * carry `provider:`).
 */
export function providerPrices(provider: 'groq' | 'openai' | 'anthropic'): Record<string, ModelPrice> {
  return Object.fromEntries(
    Object.entries(DEFAULT_PRICE_TABLE.models).flatMap(([id, price]) => {
      const qualified = /^(openai|anthropic):(.+)$/.exec(id);
      const [owner, name] = qualified ? [qualified[1], qualified[2]!] : ['groq', id];
      return owner === provider ? [[name, { inputPerMillion: price.inputPerMillion, outputPerMillion: price.outputPerMillion }]] : [];
    }),
  );
}

/** Cascade's default Groq batch prices. */
export function defaultPrices(): Record<string, ModelPrice> {
  return providerPrices('groq');
}

export const CHEAP_MODEL_PROFILE: ModelProfile = {
  failureRate: 0.04,
  jsonValidateShare: 0.935,
  serverErrorRate: 0.002,
  schemaViolationRate: 0,
  // The field run on 3,898 real PRs: 448 answers named a tool twice, 58 had an empty summary.
  repeatedItemRate: 0.115,
  emptySummaryRate: 0.015,
  refusalRate: 0,
  contextTokens: 131_072,
  maxCompletionTokens: 65_536,
  supportsStrict: true,
  reasoningTokens: 160,
  longOutputTokens: 1_400,
};

export const STRONG_REASONING_PROFILE: ModelProfile = { ...CHEAP_MODEL_PROFILE, failureRate: 0, repeatedItemRate: 0, emptySummaryRate: 0 };

export const STRONG_MODEL_PROFILE: ModelProfile = {
  ...CHEAP_MODEL_PROFILE,
  failureRate: 0,
  maxCompletionTokens: 32_768,
  supportsStrict: false,
  reasoningTokens: 0,
};

export const NO_FAULTS: SimulatorFaults = {
  shuffle: false,
  missingRate: 0,
  malformedRate: 0,
  rateLimitFirst: 0,
  rateLimitRoute: null,
  rateLimitRetryAfterMs: 200,
  downloadErrorsFirst: 0,
  serverErrorsFirst: 0,
  responseDelayMs: 0,
  expireAfterFraction: null,
  unfinishedInErrorFile: false,
  failValidation: false,
  dropCreateResponses: 0,
  createErrorsAfterWorkFirst: 0,
  listDelayMs: 0,
};

/** The chat models Groq lists for batch work; any other model fails validation with model_not_found. */
export function defaultProfiles(): Record<string, ModelProfile> {
  return {
    'openai/gpt-oss-20b': { ...CHEAP_MODEL_PROFILE },
    'openai/gpt-oss-120b': { ...STRONG_REASONING_PROFILE },
    'llama-3.3-70b-versatile': { ...STRONG_MODEL_PROFILE },
    'llama-3.1-8b-instant': { ...STRONG_MODEL_PROFILE, maxCompletionTokens: 131_072 },
    'meta-llama/llama-4-scout-17b-16e-instruct': { ...STRONG_MODEL_PROFILE, maxCompletionTokens: 8_192 },
  };
}

/**
 * OpenAI models, under OpenAI's own names. The rates are this simulator's assumptions, not measurements:
 * with strict structured outputs an answer always follows the schema, so what remains is output cut at
 * `max_tokens` (`failureRate`: all of it needs more room, none is `json_validate_failed`, which is
 * Groq's), refusals, and occasional per-line 5xx. The cheaper the model, the more often it runs long.
 */
export const OPENAI_CHEAP_MODEL_PROFILE: ModelProfile = {
  failureRate: 0.02,
  jsonValidateShare: 0,
  serverErrorRate: 0.002,
  // Only without strict mode (json_object or strict: false); strict answers follow the schema.
  schemaViolationRate: 0.01,
  repeatedItemRate: 0,
  emptySummaryRate: 0,
  refusalRate: 0.003,
  contextTokens: 1_047_576,
  maxCompletionTokens: 32_768,
  supportsStrict: true,
  reasoningTokens: 0,
  longOutputTokens: 1_400,
};

export const OPENAI_STRONG_MODEL_PROFILE: ModelProfile = { ...OPENAI_CHEAP_MODEL_PROFILE, failureRate: 0.002, schemaViolationRate: 0, refusalRate: 0.001 };

export function openaiProfiles(): Record<string, ModelProfile> {
  return {
    'gpt-4.1-nano': { ...OPENAI_CHEAP_MODEL_PROFILE, failureRate: 0.04, refusalRate: 0.005, schemaViolationRate: 0.02 },
    'gpt-4.1-mini': { ...OPENAI_CHEAP_MODEL_PROFILE },
    'gpt-4o-mini': { ...OPENAI_CHEAP_MODEL_PROFILE, failureRate: 0.03, contextTokens: 128_000, maxCompletionTokens: 16_384 },
    'gpt-4.1': { ...OPENAI_STRONG_MODEL_PROFILE },
    'gpt-4o': { ...OPENAI_STRONG_MODEL_PROFILE, failureRate: 0.003, contextTokens: 128_000, maxCompletionTokens: 16_384 },
  };
}

/** OpenAI's batch prices, from Cascade's table (50 % of OpenAI's list prices). */
export const OPENAI_BATCH_PRICES: Record<string, ModelPrice> = providerPrices('openai');

/** The models a simulator of `api` knows; any other fails validation with model_not_found. */
export function profilesFor(api: SimulatorApi): Record<string, ModelProfile> {
  return api === 'openai' ? openaiProfiles() : defaultProfiles();
}

/** Prices the bill is computed at: Cascade's table, the provider's part of it. */
export function pricesFor(api: SimulatorApi): Record<string, ModelPrice> {
  return api === 'openai' ? providerPrices('openai') : defaultPrices();
}

/** What a new model added with `setProfile` starts from. */
export function baseProfileFor(api: SimulatorApi): ModelProfile {
  return api === 'openai' ? OPENAI_STRONG_MODEL_PROFILE : STRONG_MODEL_PROFILE;
}

export const DEFAULT_SIMULATOR_OPTIONS: Readonly<SimulatorOptions> = {
  api: 'groq',
  host: '127.0.0.1',
  port: 0,
  seed: 42,
  stageDelayMs: 0,
  perLineDelayMs: 0,
  linesPerSecond: null,
  chunkLines: 256,
  shuffleWindowLines: 2_048,
  outputTooLongAs: 'error',
  maxLinesPerFile: 50_000,
  maxUploadBytes: 200 * 1024 * 1024,
  maxValidationErrors: 1_000,
  clock: () => Date.now(),
  profiles: defaultProfiles(),
  prices: defaultPrices(),
  faults: NO_FAULTS,
};

/** Full options from a partial set: profiles and faults are merged key by key, never shared. */
export function resolveOptions(overrides: Partial<SimulatorOptions> = {}): SimulatorOptions {
  const api = overrides.api ?? DEFAULT_SIMULATOR_OPTIONS.api;
  const profiles = profilesFor(api);
  for (const [model, profile] of Object.entries(overrides.profiles ?? {})) {
    profiles[model] = { ...(profiles[model] ?? baseProfileFor(api)), ...profile };
  }
  return {
    ...DEFAULT_SIMULATOR_OPTIONS,
    ...overrides,
    api,
    profiles,
    prices: { ...pricesFor(api), ...overrides.prices },
    faults: { ...NO_FAULTS, ...overrides.faults },
  };
}

export type FieldKind = 'boolean' | 'number' | 'number|null' | 'string|null' | 'random|features';

const FAULT_FIELDS: Record<keyof SimulatorFaults, FieldKind> = {
  shuffle: 'boolean',
  missingRate: 'number',
  malformedRate: 'number',
  rateLimitFirst: 'number',
  rateLimitRoute: 'string|null',
  rateLimitRetryAfterMs: 'number',
  downloadErrorsFirst: 'number',
  serverErrorsFirst: 'number',
  responseDelayMs: 'number',
  expireAfterFraction: 'number|null',
  unfinishedInErrorFile: 'boolean',
  failValidation: 'boolean',
  dropCreateResponses: 'number',
  createErrorsAfterWorkFirst: 'number',
  listDelayMs: 'number',
};

const PROFILE_FIELDS: Record<keyof ModelProfile, FieldKind> = {
  failureRate: 'number',
  failureModel: 'random|features',
  jsonValidateShare: 'number',
  serverErrorRate: 'number',
  schemaViolationRate: 'number',
  repeatedItemRate: 'number',
  emptySummaryRate: 'number',
  refusalRate: 'number',
  contextTokens: 'number',
  maxCompletionTokens: 'number',
  supportsStrict: 'boolean',
  reasoningTokens: 'number',
  longOutputTokens: 'number',
};

function fits(kind: FieldKind, value: unknown): boolean {
  if (kind === 'random|features') return value === 'random' || value === 'features';
  if (value === null) return kind.endsWith('|null');
  if (kind === 'boolean') return typeof value === 'boolean';
  if (kind.startsWith('number')) return typeof value === 'number' && Number.isFinite(value) && value >= 0;
  return typeof value === 'string';
}

export function parseFields<T>(what: string, fields: Record<string, FieldKind>, input: unknown): Partial<T> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error(`${what} must be a JSON object`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const kind = fields[key];
    if (!kind) throw new Error(`unknown ${what} field "${key}" (known: ${Object.keys(fields).join(', ')})`);
    if (!fits(kind, value)) throw new Error(`${what} field "${key}" must be ${kind} (non-negative for numbers)`);
    out[key] = value;
  }
  return out as Partial<T>;
}

/** Checks faults that come from outside the process (control route, CLI, environment). */
export function parseFaults(input: unknown): Partial<SimulatorFaults> {
  return parseFields<SimulatorFaults>('fault', FAULT_FIELDS, input);
}

/** Checks a partial model profile that comes from outside the process. */
export function parseProfile(input: unknown): Partial<ModelProfile> {
  return parseFields<ModelProfile>('profile', PROFILE_FIELDS, input);
}

/** Checks batch prices that come from outside the process: `{"<model>": {"inputPerMillion": n, "outputPerMillion": n}}`. */
export function parsePrices(input: unknown): Record<string, ModelPrice> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new Error('prices must be a JSON object of model → price');
  const out: Record<string, ModelPrice> = {};
  for (const [model, price] of Object.entries(input)) {
    const p = price as Partial<ModelPrice> | null;
    const ok = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;
    if (!p || !ok(p.inputPerMillion) || !ok(p.outputPerMillion)) throw new Error(`price of ${model} needs non-negative numbers inputPerMillion and outputPerMillion`);
    out[model] = { inputPerMillion: p.inputPerMillion!, outputPerMillion: p.outputPerMillion! };
  }
  return out;
}
