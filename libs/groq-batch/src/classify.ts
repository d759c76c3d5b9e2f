import { OUR_CODES } from './outcome.js';

/** Codes seen or plausible for an answer cut at the output budget (Groq's own code is unconfirmed). */
const OUTPUT_TOO_LONG_CODES = new Set([
  OUR_CODES.outputTooLong,
  'max_tokens_exceeded',
  'max_completion_tokens_exceeded',
  'max_tokens',
  'output_length_exceeded',
  'length',
]);

/** The input, not the output, is too long: a different, permanent failure. */
const INPUT_TOO_LONG_CODES = new Set(['context_length_exceeded', 'input_too_long', 'request_too_large']);

const TOKENS = String.raw`max(?:imum)?[ _]?(?:completion[ _]|output[ _]|new[ _])?tokens`;
const OUTPUT_TOO_LONG_MESSAGE = new RegExp(
  [
    String.raw`(?:exceed|reach|hit)(?:s|ed|ing)?\s+(?:the\s+)?(?:${TOKENS}|(?:output\s+)?token\s+limit|output\s+limit)`,
    String.raw`${TOKENS}\s+(?:was\s+|were\s+|has been\s+)?(?:reached|exceeded|hit)`,
    String.raw`increase\s+(?:the\s+)?\W?${TOKENS}`,
    String.raw`output\s+(?:was\s+)?(?:truncated|too long|cut off)`,
    String.raw`finish_reason\W+length`,
  ].join('|'),
  'i',
);

export interface FailureSignals {
  code?: string | null;
  message?: string | null;
  finishReason?: string | null;
}

/**
 * Output-length failures arrive as `finish_reason: "length"`, as an error code, or only in the
 * message wording. A request refused because its input is too long is not one of them.
 */
export function isOutputTooLong(signals: FailureSignals): boolean {
  const code = signals.code?.toLowerCase() ?? null;
  if (code && INPUT_TOO_LONG_CODES.has(code)) return false;
  if (signals.finishReason === 'length') return true;
  if (code && OUTPUT_TOO_LONG_CODES.has(code)) return true;
  return OUTPUT_TOO_LONG_MESSAGE.test(signals.message ?? '');
}

/** The code a failure is filed under: `output_too_long` for every spelling of it, else the code as given. */
export function normaliseFailureCode(signals: FailureSignals & { code: string }): string {
  return isOutputTooLong(signals) ? OUR_CODES.outputTooLong : signals.code;
}
