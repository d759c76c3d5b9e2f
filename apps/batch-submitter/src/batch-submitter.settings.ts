import { type DeadlineDefaults, deadlineDefaultsEnv, promptRegistryFrom, submissionEnv } from '#batching';
import type { PromptRegistry } from '#groq-batch';
import { z } from 'zod';
import type { GuardLimits } from './ingestion/prompt-guard.js';

const positiveInt = z.coerce.number().int().positive();

/** The batch-submitter's own variables, on top of the shared ones. */
export const batchSubmitterEnv = z.object({
  PR_BODY_MAX_CHARS: positiveInt.default(20_000),
  PR_REVIEW_MAX_CHARS: positiveInt.default(2_000),
  PR_MAX_REVIEWS: positiveInt.default(20),
  /** Predictive routing: `shadow` scores and records, `learned` also starts requests above the threshold on the chain's next model, `off` scores nothing. */
  ROUTING: z.enum(['off', 'shadow', 'learned']).default('shadow'),
}).extend(submissionEnv.shape).extend(deadlineDefaultsEnv.shape);
export type BatchSubmitterEnv = z.infer<typeof batchSubmitterEnv>;

export const SUBMITTER_SETTINGS = Symbol('SUBMITTER_SETTINGS');

export interface SubmitterSettings {
  promptVersion: string;
  /** The versions an event may name (PROMPTS_DIR's). */
  prompts: PromptRegistry;
  guard: GuardLimits;
  modelChain: string[];
  maxTokens: number;
  cacheTtlHours: number;
  /** ROUTING: whether the router's decision is only recorded (`shadow`, the default when unset) or acted on (`learned`). */
  routing?: 'off' | 'shadow' | 'learned';
  /** DEADLINE_DEFAULTS_JSON: hours after occurredAt by which each team's PRs without their own deadline are due. */
  deadlineDefaults?: DeadlineDefaults;
}

export function submitterSettingsFrom(env: BatchSubmitterEnv): SubmitterSettings {
  return {
    promptVersion: env.PROMPT_VERSION,
    prompts: promptRegistryFrom(env),
    guard: { maxBodyChars: env.PR_BODY_MAX_CHARS, maxReviewChars: env.PR_REVIEW_MAX_CHARS, maxReviews: env.PR_MAX_REVIEWS },
    modelChain: env.MODEL_CHAIN,
    maxTokens: env.MAX_TOKENS,
    cacheTtlHours: env.CACHE_TTL_HOURS,
    routing: env.ROUTING,
    deadlineDefaults: env.DEADLINE_DEFAULTS_JSON,
  };
}
