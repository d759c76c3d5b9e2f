import { checkCompletionWindow, DEFAULT_PROMPT_VERSION, type PromptRegistry, promptRegistry, UnknownPromptVersionError } from '#groq-batch';
import { ConfigError } from '#platform';
import { DEFAULT_STRANDED_AFTER_MS } from '#ledger';
import { z } from 'zod';
import type { AssemblerSettings } from './batch-assembler.js';
import { modelEntryProblem, modelRefOf } from './providers/model-ref.js';
import { DEFAULT_SUBMIT_RETRY } from './submit-retry.js';

const positiveInt = z.coerce.number().int().positive();

function isCompletionWindow(window: string): boolean {
  try {
    checkCompletionWindow(window);
    return true;
  } catch {
    return false;
  }
}

/** A variable holding a JSON object (unset or blank: `{}`), parsed and then checked by `schema`: an error names the field. */
export function jsonObjectEnv<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (!text || text.trim() === '') return {};
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `is not JSON: ${(error as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

const modelLimits = z.strictObject({
  requestsPerMinute: z.number().int().positive().optional(),
  requestsPerDay: z.number().int().positive().optional(),
  tokensPerMinute: z.number().int().positive().optional(),
  tokensPerDay: z.number().int().positive().optional(),
});

/** `{"openai/gpt-oss-20b": {"tokensPerDay": 5000000, "requestsPerMinute": 100000}}`: a JSON error names the model and field. */
const modelQuotasJson = jsonObjectEnv(z.record(z.string().min(1), modelLimits));

/** Variables shared by the two services that submit batches (batch-submitter and retry-service). */
export const submissionEnv = z.object({
  /**
   * The models each request goes through, cheapest first: `provider:model` (groq, openai, anthropic), a plain
   * name meaning Groq. Read as model ids (`modelRefOf`): Groq's keep their plain name.
   */
  MODEL_CHAIN: z
    .string()
    .default('openai/gpt-oss-20b,llama-3.3-70b-versatile')
    .transform((value) => value.split(',').map((m) => m.trim()).filter(Boolean))
    .pipe(z.array(z.string().min(1)).min(1, 'must name at least one model'))
    .superRefine((models, ctx) => {
      for (const model of models) {
        const problem = modelEntryProblem(model);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }
    })
    .transform((models) => models.map((model) => modelRefOf(model).id)),
  MAX_TOKENS: positiveInt.default(1_024),
  MAX_TOKENS_CEILING: positiveInt.default(8_192),
  MAX_ATTEMPTS: positiveInt.default(3),
  BATCH_MAX_LINES: positiveInt.default(1_000),
  BATCH_MAX_BYTES: positiveInt.default(100 * 1024 * 1024),
  BATCH_LINGER_MS: positiveInt.default(5_000),
  BATCH_ASSEMBLE_INTERVAL_MS: positiveInt.default(500),
  /** Provider batches being uploaded and created at once by one assembler. */
  BATCH_SUBMIT_CONCURRENCY: positiveInt.default(3),
  /**
   * The prompt version of PRs that name none. Must name a folder of PROMPTS_DIR: `promptRegistryFrom`
   * refuses an unknown version at boot, before anything is sent. Read by every service and the CLI
   * (reconcile counts dead letters of such PRs under it).
   */
  PROMPT_VERSION: z.string().min(1).default(DEFAULT_PROMPT_VERSION),
  /** How long a request may sit in one stage before `reconcile` reports it stuck. */
  STAGE_DEADLINE_MS: positiveInt.default(26 * 60 * 60 * 1000),
  /** How long an in-flight request may go without it or its batch moving before `reconcile` calls it stranded. */
  STRANDED_AFTER_MS: positiveInt.default(DEFAULT_STRANDED_AFTER_MS),
  /** Required when MODEL_CHAIN names a Groq model (checked at boot by `providerSetFrom`). */
  GROQ_API_KEY: z.string().min(1).optional(),
  GROQ_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .refine((url) => !/\/openai\/v1\/?$/.test(url), 'must be the host root: the SDK appends /openai/v1 itself')
    .default('https://api.groq.com'),
  /** Checked here by the client's own rule (24h to 7d), so a bad window stops the service with the variable's name. */
  GROQ_COMPLETION_WINDOW: z
    .string()
    .default('24h')
    .refine(isCompletionWindow, 'must be a completion window from 24h to 7d (e.g. 24h, 48h, 7d)'),
  GROQ_TIMEOUT_MS: positiveInt.default(60_000),
  /** How long a batch whose create went unanswered is looked for by its key before it is created again (0: one look). */
  GROQ_LIST_SETTLE_MS: z.coerce.number().int().nonnegative().default(30_000),
  /** Required when MODEL_CHAIN names an OpenAI model. */
  OPENAI_API_KEY: z.string().min(1).optional(),
  /** The OpenAI API root, /v1 included (the SDK's convention). */
  OPENAI_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://api.openai.com/v1'),
  OPENAI_TIMEOUT_MS: positiveInt.default(60_000),
  /** How long a batch whose create went unanswered is looked for by its key before it is created again (0: one look). */
  OPENAI_LIST_SETTLE_MS: z.coerce.number().int().nonnegative().default(30_000),
  /** Required when MODEL_CHAIN names an Anthropic model; use a workspace of its own (see the README: its batches carry no metadata). */
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  /** The Anthropic API root (the SDK adds /v1/messages/batches). */
  ANTHROPIC_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://api.anthropic.com'),
  ANTHROPIC_TIMEOUT_MS: positiveInt.default(60_000),
  /** How long an unanswered create looks for the batch it may have made before deciding (0: one look). */
  ANTHROPIC_LIST_SETTLE_MS: z.coerce.number().int().nonnegative().default(30_000),
  /** How long a submission is leased before another replica may resume it (default: 3 provider timeouts, at least 2 min). */
  SUBMIT_LEASE_MS: positiveInt.optional(),
  /** A failed submission is tried again after this, doubled after each failure up to SUBMIT_RETRY_MAX_MS (or the provider's retry-after). */
  SUBMIT_RETRY_BASE_MS: positiveInt.default(DEFAULT_SUBMIT_RETRY.baseDelayMs),
  SUBMIT_RETRY_MAX_MS: positiveInt.default(DEFAULT_SUBMIT_RETRY.maxDelayMs),
  /** Failed submissions of one batch after which it is held (shown by status and reconcile) until an operator retries it. */
  SUBMIT_MAX_ATTEMPTS: positiveInt.default(DEFAULT_SUBMIT_RETRY.maxAttempts),
  /** How often the batch-submitter sweeps the provider's last two days of batches for ones with our keys the database does not know (0: never). */
  PROVIDER_SWEEP_INTERVAL_MS: z.coerce.number().int().nonnegative().default(600_000),
  /** Quota counters live in Redis when set (shared by replicas, kept across restarts), else in each process. */
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  QUOTA_KEY_PREFIX: z.string().min(1).max(100).default('cascade'),
  /** Per-model limits on what we send: requests and tokens per minute and per UTC day. */
  MODEL_QUOTAS_JSON: modelQuotasJson,
  /** Tokens per model per UTC day (input estimate + output budget); a model's own tokensPerDay wins. */
  DAILY_TOKEN_BUDGET: positiveInt.optional(),
  /** USD per UTC day across models, counted at submission at the most each line can cost. */
  DAILY_SPEND_BUDGET_USD: z.coerce.number().positive().optional(),
  MODEL_PRICES_JSON: z.string().optional(),
  /** How long an analysis answers identical content (same hash and prompt version) at $0. */
  CACHE_TTL_HOURS: positiveInt.default(30 * 24),
  /** The folder of prompt versions (unset: the `prompts/` folder shipped with the code); loaded and checked at boot. */
  PROMPTS_DIR: z
    .string()
    .min(1)
    .optional()
    .superRefine((dir, ctx) => {
      if (dir === undefined) return;
      try {
        promptRegistry(dir);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
  /**
   * What a model's exhausted quota or budget does to its waiting requests: `hold` them until it has room
   * (default), or move them to the next model of MODEL_CHAIN that has room now (`next-model`), recorded per
   * request (`cascade status`).
   */
  QUOTA_FALLBACK: z.enum(['hold', 'next-model']).default('hold'),
  /** Submit at most this many requests in this process's life (unset: no limit). */
  SUBMIT_LIMIT: z.coerce.number().int().nonnegative().optional(),
});
export type SubmissionEnv = z.infer<typeof submissionEnv>;

/**
 * The prompt versions a process reads — the PROMPTS_DIR folder, else the shipped one — with PROMPT_VERSION
 * checked against them (it depends on both variables, so no one field's schema can): every service and the
 * CLI call it at boot, and it is the registry they build and validate requests with.
 */
export function promptRegistryFrom(env: Pick<SubmissionEnv, 'PROMPTS_DIR' | 'PROMPT_VERSION'>): PromptRegistry {
  const registry = promptRegistry(env.PROMPTS_DIR);
  if (!registry.has(env.PROMPT_VERSION)) throw new ConfigError('PROMPT_VERSION', new UnknownPromptVersionError(env.PROMPT_VERSION, registry.ids()).message);
  return registry;
}

/** The strong model is the last of MODEL_CHAIN: the one the "always the strong model" cost comparison prices. */
export function strongModelOf(env: Pick<SubmissionEnv, 'MODEL_CHAIN'>): string {
  return env.MODEL_CHAIN.at(-1)!;
}

export function assemblerSettingsFrom(
  env: SubmissionEnv,
  passes: { minPass: number; maxPass: number },
  producer: string,
): AssemblerSettings {
  return {
    ...passes,
    maxLines: env.BATCH_MAX_LINES,
    maxBytes: env.BATCH_MAX_BYTES,
    lingerMs: env.BATCH_LINGER_MS,
    intervalMs: env.BATCH_ASSEMBLE_INTERVAL_MS,
    stageDeadlineMs: env.STAGE_DEADLINE_MS,
    leaseMs: env.SUBMIT_LEASE_MS ?? Math.max(120_000, 3 * Math.max(env.GROQ_TIMEOUT_MS, env.OPENAI_TIMEOUT_MS, env.ANTHROPIC_TIMEOUT_MS)),
    producer,
    submitLimit: env.SUBMIT_LIMIT,
    submitConcurrency: env.BATCH_SUBMIT_CONCURRENCY,
    submitRetry: { baseDelayMs: env.SUBMIT_RETRY_BASE_MS, maxDelayMs: env.SUBMIT_RETRY_MAX_MS, maxAttempts: env.SUBMIT_MAX_ATTEMPTS },
    // One sweeper is enough: the service that submits pass 1 (the batch-submitter).
    providerSweepMs: passes.minPass === 1 && env.PROVIDER_SWEEP_INTERVAL_MS > 0 ? env.PROVIDER_SWEEP_INTERVAL_MS : undefined,
    fallbackChain: env.QUOTA_FALLBACK === 'next-model' ? env.MODEL_CHAIN : undefined,
  };
}
