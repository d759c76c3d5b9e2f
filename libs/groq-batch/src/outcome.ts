import type { PrAnalysis } from './pr-analysis/pr-analysis.schema.js';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** Codes we assign ourselves; the provider's own codes (e.g. json_validate_failed) pass through. */
export const OUR_CODES = {
  schemaInvalid: 'schema_invalid',
  outputTooLong: 'output_too_long',
  /** A 200 answer whose message is a refusal (OpenAI's `message.refusal`) instead of content. */
  refusal: 'refusal',
  malformedLine: 'malformed_line',
  missing: 'missing',
  batchExpired: 'batch_expired',
  batchCancelled: 'batch_cancelled',
  batchFailed: 'batch_failed',
} as const;

export type FileKind = 'output' | 'error';

/** Where a line was read: 1-based line number within its file. */
export interface LineLocation {
  source: FileKind;
  lineNumber: number;
}

/** A 200 answer whose content parsed and passed the PR-analysis schema. */
export interface SucceededOutcome extends LineLocation {
  kind: 'succeeded';
  customId: string;
  content: string;
  analysis: PrAnalysis;
  /** Harmless deviations normalised in the content (a repeated item, a code fence, ...); empty when none. */
  normalised: string[];
  usage: Usage;
  model: string;
  finishReason: string | null;
}

/** The provider refused or failed the request: the line's HTTP status and error body. */
export interface ProviderErrorOutcome extends LineLocation {
  kind: 'provider_error';
  customId: string;
  httpStatus: number | null;
  /** Normalised: output-length failures read `output_too_long` whatever the provider called them. */
  code: string;
  /** The code exactly as the provider sent it (null when it sent none). */
  providerCode: string | null;
  type: string | null;
  message: string;
  failedGeneration: string | null;
  usage: Usage | null;
}

/** A 200 answer we cannot use: content not JSON, not matching the schema, cut at max_tokens, or a refusal. */
export interface InvalidOutputOutcome extends LineLocation {
  kind: 'invalid_output';
  customId: string;
  code: typeof OUR_CODES.schemaInvalid | typeof OUR_CODES.outputTooLong | typeof OUR_CODES.refusal;
  message: string;
  /** The content as returned, or the refusal text (capped at RAW_TEXT_LIMIT characters). */
  raw: string;
  /** ajv error paths and messages, e.g. `/confidence: must be <= 1`. */
  validationErrors: string[];
  usage: Usage;
  model: string;
  finishReason: string | null;
}

/** A line whose custom_id could be read but whose structure could not. */
export interface MalformedOutcome extends LineLocation {
  kind: 'malformed';
  customId: string;
  code: typeof OUR_CODES.malformedLine;
  message: string;
  raw: string;
}

/** Exactly one per custom_id found in the files. */
export type LineOutcome = SucceededOutcome | ProviderErrorOutcome | InvalidOutputOutcome | MalformedOutcome;
export type FailedLineOutcome = Exclude<LineOutcome, SucceededOutcome>;

/** A line no request can be attributed to (no readable custom_id): kept with its text, never dropped. */
export interface MalformedLine extends LineLocation {
  raw: string;
  reason: string;
}

/** Why a sent request ended up failed after reconciliation. */
export type FailureCause = 'provider_error' | 'invalid_output' | 'malformed' | 'unfinished' | 'missing';

/** The reconciled failure of one sent request, whatever its origin, in one shape. */
export interface FailedOutcome {
  kind: 'failed';
  customId: string;
  cause: FailureCause;
  code: string;
  message: string;
  httpStatus: number | null;
  errorType: string | null;
  failedGeneration: string | null;
  /** Raw content or line text kept for diagnosis (schema-invalid output, malformed lines). */
  raw: string | null;
  /** Tokens the failed attempt consumed (it was paid for), when the line reports them. */
  usage: Usage | null;
  /** Where the failure was read, or null when nothing was (missing, unfinished). */
  location: LineLocation | null;
}

/** Longest raw text kept per line: bounds memory when a whole file is bad. */
export const RAW_TEXT_LIMIT = 100_000;
