import { z } from 'zod';

/** Upstream ids are arbitrary text (quotes, slashes, SQL-looking): bounded, printable, never empty. */
export const RequestId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters');

export const IsoDateTime = z.iso.datetime({ offset: true });
export const NonNegativeInt = z.number().int().nonnegative();
export const PositiveInt = z.number().int().positive();
export const ModelName = z.string().min(1).max(200);
export const PromptVersion = z.string().min(1).max(100);

/** Large lists are split across several messages; each says which part it is. */
export const Part = { part: PositiveInt, parts: PositiveInt };

/**
 * The metadata of one request, carried by every event that concerns it, so that no stage ever
 * needs a lookup to know which PR a result or failure belongs to.
 */
export const RequestMetadata = z.object({
  requestId: RequestId,
  correlationId: z.string().min(1).max(200),
  team: z.string().min(1).max(200),
  repo: z.string().min(1).max(300),
  prNumber: PositiveInt,
  promptVersion: PromptVersion,
  attempt: PositiveInt,
  contentHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest'),
});
export type RequestMetadata = z.infer<typeof RequestMetadata>;

export const TokenUsage = z.object({
  promptTokens: NonNegativeInt,
  completionTokens: NonNegativeInt,
});
export type TokenUsage = z.infer<typeof TokenUsage>;
