import { z } from 'zod';

/** The largest value of a PostgreSQL `integer` column: every integer of a contract is stored in one. */
export const INT32_MAX = 2_147_483_647;

/** Date-times are stored as `timestamptz` and charted by month: bounded to instants every report can show. */
export const MIN_DATE_TIME = '1970-01-01T00:00:00.000Z';
export const MAX_DATE_TIME = '9999-12-31T23:59:59.999Z';
const MIN_INSTANT = Date.parse(MIN_DATE_TIME);
const MAX_INSTANT = Date.parse(MAX_DATE_TIME);
/** Real time zones are within ±14:00 (PostgreSQL refuses offsets beyond ±15:59). */
const MAX_OFFSET_MINUTES = 14 * 60;

// Lone surrogates (half of a UTF-16 pair) cannot be encoded as UTF-8: PostgreSQL refuses them, as it refuses NUL.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What every free-text string of a contract becomes: NUL removed, lone surrogates replaced by U+FFFD. */
export function normaliseText(value: string): string {
  const withoutNul = value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
  return (withoutNul as string & { toWellFormed(): string }).toWellFormed();
}

/** Whether PostgreSQL can store `value` as it is (no NUL, no lone surrogate). */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

/**
 * The one string primitive of every contract: normalised before any other check, so whatever passes the
 * contract can be stored. Producers in other languages may send any JSON string; the consumer stores the
 * normalised text (the JSON Schema says `string`: normalising is not refusing).
 */
export function text(options: { min?: number; max: number }) {
  const base = z.string().overwrite(normaliseText);
  return (options.min !== undefined ? base.min(options.min) : base).max(options.max);
}

/**
 * Identifiers (request ids, prompt versions) are keys: rewriting one would merge two upstream ids, so
 * what cannot be stored as it is (control characters, lone surrogates) is refused with a reason instead.
 */
export function identifier(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters')
    .refine((value) => !LONE_SURROGATE.test(value), 'must not contain lone surrogates (not valid UTF-16)');
}

/** Upstream ids are arbitrary text (quotes, slashes, SQL-looking): bounded, printable, never empty. */
export const RequestId = identifier(200);

/** An ISO 8601 date-time with an offset, between 1970 and 9999 (UTC) and within ±14:00 of UTC. */
export const IsoDateTime = z.iso.datetime({ offset: true }).superRefine((value, context) => {
  const offset = /([+-])(\d{2}):?(\d{2})$/.exec(value);
  if (offset && Number(offset[2]) * 60 + Number(offset[3]) > MAX_OFFSET_MINUTES) {
    context.addIssue({ code: 'custom', message: 'time zone offset must be within ±14:00' });
    return;
  }
  const instant = Date.parse(value);
  if (!(instant >= MIN_INSTANT && instant <= MAX_INSTANT)) {
    context.addIssue({ code: 'custom', message: `must be between ${MIN_DATE_TIME} and ${MAX_DATE_TIME}` });
  }
}).describe(`ISO 8601 with an offset within ±14:00, between ${MIN_DATE_TIME} and ${MAX_DATE_TIME}`);
export const NonNegativeInt = z.number().int().nonnegative().max(INT32_MAX);
export const PositiveInt = z.number().int().positive().max(INT32_MAX);
/** An integer of an `integer` column that may be negative (HTTP statuses are not, but the column allows it). */
export const Int32 = z.number().int().min(-INT32_MAX - 1).max(INT32_MAX);
export const ModelName = text({ min: 1, max: 200 });
export const PromptVersion = identifier(100);

/** Large lists are split across several messages; each says which part it is. */
export const Part = { part: PositiveInt, parts: PositiveInt };

/**
 * The metadata of one request, carried by every event that concerns it, so that no stage ever
 * needs a lookup to know which PR a result or failure belongs to.
 */
export const RequestMetadata = z.object({
  requestId: RequestId,
  correlationId: text({ min: 1, max: 200 }),
  team: text({ min: 1, max: 200 }),
  repo: text({ min: 1, max: 300 }),
  prNumber: PositiveInt,
  promptVersion: PromptVersion,
  attempt: PositiveInt,
  contentHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest'),
  /**
   * The W3C trace context of the request's own trace (set when it was accepted with tracing on): a batch
   * carries many requests, so each carries its own, and every service's step for it joins that trace.
   */
  traceparent: z.string().regex(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'must be a W3C traceparent').optional(),
});
export type RequestMetadata = z.infer<typeof RequestMetadata>;

export const TokenUsage = z.object({
  promptTokens: NonNegativeInt,
  completionTokens: NonNegativeInt,
});
export type TokenUsage = z.infer<typeof TokenUsage>;
