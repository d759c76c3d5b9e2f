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

/**
 * What a failed attempt calls for, the one classification both the parser's codes and the
 * retry-service's decisions rest on: invalid output (a stronger model fixes it), output cut at
 * max_tokens (more room), transient and batch-level losses (the same model again), or permanent.
 */
export type FailureClass = 'invalid_output' | 'output_too_long' | 'transient' | 'permanent';

/**
 * Output that came back unusable: the cheap model's weakness. A refusal counts here too: the request
 * itself was accepted (an input the provider rejects fails with an error, not a refusal: OpenAI's `message.refusal`, Anthropic's `stop_reason: "refusal"`), and a PR
 * analysis refused by one model is one another model may answer; the chain's end bounds the cost.
 */
const INVALID_OUTPUT_CODES = new Set<string>(['json_validate_failed', OUR_CODES.schemaInvalid, 'invalid_json', OUR_CODES.malformedLine, OUR_CODES.refusal]);
/** Lost, not failed: the batch expired, was cancelled or failed, a line went missing, the provider had a bad moment. */
const TRANSIENT_CODES = new Set<string>([
  OUR_CODES.batchExpired,
  OUR_CODES.batchCancelled,
  OUR_CODES.batchFailed,
  OUR_CODES.missing,
  'server_error',
  'internal_server_error',
  'service_unavailable',
  'rate_limit_exceeded',
  'rate_limited',
  'timeout',
  // OpenAI: the request ran out of time inside the batch (an error-file line with no HTTP answer).
  'request_timeout',
  'duplicate_custom_id',
  // Anthropic's error types for a request that met a bad moment (its errored batch results).
  'rate_limit_error',
  'overloaded_error',
  'api_error',
  'timeout_error',
  // Anthropic: the account, not the request, stood in the way (a key, a permission, the balance): the
  // request goes again once an operator fixes it, within its attempts.
  'authentication_error',
  'permission_error',
  'billing_error',
]);
/** The same request fails the same way on every model: retrying cannot help. */
const PERMANENT_CODES = new Set<string>([...INPUT_TOO_LONG_CODES, 'content_policy_violation', 'invalid_api_key', 'model_not_found']);
/**
 * Anthropic's error types for a request it refuses as such: permanent, but checked after the output-length
 * wording, since Groq files its output-too-long lines under `invalid_request_error` too.
 */
const REFUSED_REQUEST_CODES = new Set<string>(['invalid_request_error', 'not_found_error']);
const INPUT_TOO_LONG_MESSAGE = /context.{0,20}(length|window)|too many (input )?tokens|reduce the length/i;
/** Anthropic files an empty balance under `invalid_request_error` (bespokelabsai/curator#296): the account's problem, not the request's. */
const ACCOUNT_MESSAGE = /credit balance is too low/i;

export function classifyFailure(facts: FailureSignals & { code: string; httpStatus: number | null }): FailureClass {
  const code = facts.code.toLowerCase();
  if (PERMANENT_CODES.has(code) || INPUT_TOO_LONG_MESSAGE.test(facts.message ?? '')) return 'permanent';
  if (isOutputTooLong(facts)) return 'output_too_long';
  if (INVALID_OUTPUT_CODES.has(code)) return 'invalid_output';
  if (ACCOUNT_MESSAGE.test(facts.message ?? '')) return 'transient';
  if (REFUSED_REQUEST_CODES.has(code)) return 'permanent';
  if (TRANSIENT_CODES.has(code) || (facts.httpStatus !== null && (facts.httpStatus >= 500 || facts.httpStatus === 429))) return 'transient';
  // An unknown 4xx is a request the provider refuses as such: retrying it unchanged cannot help.
  return 'permanent';
}

/** The code a failure is filed under: `output_too_long` for every spelling of it, else the code as given. */
export function normaliseFailureCode(signals: FailureSignals & { code: string }): string {
  return isOutputTooLong(signals) ? OUR_CODES.outputTooLong : signals.code;
}
