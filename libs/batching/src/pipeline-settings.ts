import { z } from 'zod';
import type { AssemblerSettings } from './batch-assembler.js';

const positiveInt = z.coerce.number().int().positive();

/** Variables shared by the two services that submit batches (batch-submitter and retry-service). */
export const submissionEnv = z.object({
  MODEL_CHAIN: z
    .string()
    .default('openai/gpt-oss-20b,llama-3.3-70b-versatile')
    .transform((value) => value.split(',').map((m) => m.trim()).filter(Boolean))
    .pipe(z.array(z.string().min(1)).min(1, 'must name at least one model')),
  MAX_TOKENS: positiveInt.default(1_024),
  MAX_TOKENS_CEILING: positiveInt.default(8_192),
  MAX_ATTEMPTS: positiveInt.default(3),
  BATCH_MAX_LINES: positiveInt.default(1_000),
  BATCH_MAX_BYTES: positiveInt.default(100 * 1024 * 1024),
  BATCH_LINGER_MS: positiveInt.default(5_000),
  BATCH_ASSEMBLE_INTERVAL_MS: positiveInt.default(500),
  /** How long a request may sit in one stage before `reconcile` reports it stuck. */
  STAGE_DEADLINE_MS: positiveInt.default(26 * 60 * 60 * 1000),
  GROQ_API_KEY: z.string({ error: 'is required (the demo sets it to a placeholder for its local simulator)' }).min(1),
  GROQ_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .refine((url) => !/\/openai\/v1\/?$/.test(url), 'must be the host root: the SDK appends /openai/v1 itself')
    .default('https://api.groq.com'),
  GROQ_COMPLETION_WINDOW: z.string().regex(/^\d+[hd]$/, 'must look like 24h or 7d').default('24h'),
  GROQ_TIMEOUT_MS: positiveInt.default(60_000),
  /** Submit at most this many requests in this process's life (unset: no limit). */
  SUBMIT_LIMIT: z.coerce.number().int().nonnegative().optional(),
});
export type SubmissionEnv = z.infer<typeof submissionEnv>;

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
    leaseMs: Math.max(120_000, env.GROQ_TIMEOUT_MS * 3),
    producer,
    submitLimit: env.SUBMIT_LIMIT,
  };
}
