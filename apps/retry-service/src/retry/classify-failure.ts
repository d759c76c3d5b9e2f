/**
 * What to do with one failed attempt. The rules follow the field data: `json_validate_failed` and
 * schema-invalid output are the cheap model's weakness (a stronger model fixes them); output cut at
 * max_tokens needs more room; transient and batch-level losses deserve the same model again; an
 * input that is too long fails the same way on every model and is permanent.
 */
export type RetryDecision =
  | { kind: 'retry'; model: string; maxTokens: number; reason: string }
  | { kind: 'permanent'; code: string; reason: string };

export interface FailureFacts {
  code: string;
  message: string;
  httpStatus: number | null;
  model: string;
  maxTokens: number;
  /** The attempt that just failed (1 = first try). */
  attempt: number;
}

export interface RetryPolicy {
  /** The model chain, cheapest first, e.g. gpt-oss-20b → llama-3.3-70b-versatile. */
  modelChain: string[];
  maxAttempts: number;
  /** Multiplier applied to max_tokens when the output was cut. */
  maxTokensGrowth: number;
  maxTokensCeiling: number;
}

export type FailureClass = 'invalid_output' | 'output_too_long' | 'transient' | 'permanent';

const INVALID_OUTPUT = new Set(['json_validate_failed', 'schema_invalid', 'invalid_json', 'malformed_line']);
const OUTPUT_TOO_LONG = new Set(['output_too_long', 'max_tokens_exceeded', 'length']);
const TRANSIENT = new Set([
  'batch_expired',
  'batch_cancelled',
  'batch_failed',
  'missing',
  'server_error',
  'internal_server_error',
  'service_unavailable',
  'rate_limit_exceeded',
  'rate_limited',
  'timeout',
  'duplicate_custom_id',
]);
const PERMANENT = new Set(['context_length_exceeded', 'input_too_long', 'content_policy_violation', 'invalid_api_key', 'model_not_found']);

export function classifyFailure(facts: Pick<FailureFacts, 'code' | 'message' | 'httpStatus'>): FailureClass {
  const code = facts.code.toLowerCase();
  if (PERMANENT.has(code) || /context.{0,20}(length|window)|too many (input )?tokens|reduce the length/i.test(facts.message)) {
    return 'permanent';
  }
  if (OUTPUT_TOO_LONG.has(code) || /max(imum)?[ _]?(completion[ _])?tokens|output (was )?(truncated|too long)/i.test(facts.message)) {
    return 'output_too_long';
  }
  if (INVALID_OUTPUT.has(code)) return 'invalid_output';
  if (TRANSIENT.has(code) || (facts.httpStatus !== null && (facts.httpStatus >= 500 || facts.httpStatus === 429))) {
    return 'transient';
  }
  // An unknown 4xx is a request the provider refuses as such: retrying it unchanged cannot help.
  return 'permanent';
}

export function decideRetry(facts: FailureFacts, policy: RetryPolicy): RetryDecision {
  const failureClass = classifyFailure(facts);
  if (failureClass === 'permanent') {
    return { kind: 'permanent', code: facts.code, reason: `permanent error ${facts.code}: ${facts.message}` };
  }
  if (facts.attempt >= policy.maxAttempts) {
    return {
      kind: 'permanent',
      code: facts.code,
      reason: `gave up after ${facts.attempt} attempts (MAX_ATTEMPTS); last error ${facts.code}: ${facts.message}`,
    };
  }
  if (failureClass === 'transient') {
    return { kind: 'retry', model: facts.model, maxTokens: facts.maxTokens, reason: `${facts.code}: same model again` };
  }
  const index = policy.modelChain.indexOf(facts.model);
  const next = index >= 0 ? policy.modelChain[index + 1] : policy.modelChain[0] === facts.model ? undefined : policy.modelChain[1];
  if (failureClass === 'output_too_long') {
    const maxTokens = Math.min(policy.maxTokensCeiling, Math.ceil(facts.maxTokens * policy.maxTokensGrowth));
    if (!next && maxTokens <= facts.maxTokens) {
      return { kind: 'permanent', code: facts.code, reason: `output too long even at ${facts.maxTokens} max tokens on ${facts.model}` };
    }
    return { kind: 'retry', model: next ?? facts.model, maxTokens, reason: `${facts.code}: more output room` };
  }
  if (!next) {
    return {
      kind: 'permanent',
      code: facts.code,
      reason: `model chain exhausted at ${facts.model}; last error ${facts.code}: ${facts.message}`,
    };
  }
  return { kind: 'retry', model: next, maxTokens: facts.maxTokens, reason: `${facts.code}: next model in the chain` };
}
