import type { PrAnalysis } from './pr-analysis/pr-analysis.schema.js';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** Codes we assign ourselves (the provider's own codes, e.g. json_validate_failed, pass through). */
export const OUR_CODES = {
  schemaInvalid: 'schema_invalid',
  outputTooLong: 'output_too_long',
  malformedLine: 'malformed_line',
  missing: 'missing',
  batchExpired: 'batch_expired',
  batchCancelled: 'batch_cancelled',
  batchFailed: 'batch_failed',
} as const;

export interface SucceededOutcome {
  kind: 'succeeded';
  customId: string;
  /** The validated analysis (the raw content is not kept: a 100 MB output file must not stay in memory twice). */
  analysis: PrAnalysis;
  usage: Usage;
  model: string;
  finishReason: string | null;
}

export interface FailedOutcome {
  kind: 'failed';
  customId: string;
  code: string;
  message: string;
  httpStatus: number | null;
  failedGeneration: string | null;
  /** Raw content or line text kept for diagnosis (schema-invalid output, malformed lines). */
  raw: string | null;
  usage: Usage | null;
}

export type LineOutcome = SucceededOutcome | FailedOutcome;

/** A line we could not attribute to any request: kept with its text, never dropped silently. */
export interface MalformedLine {
  source: 'output' | 'error';
  lineNumber: number;
  raw: string;
  reason: string;
}
