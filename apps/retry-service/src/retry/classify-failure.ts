import { classifyFailure } from '#groq-batch';

/**
 * What to do with one failed attempt (classified by `classifyFailure` of the groq-batch library, the one
 * classifier the parser uses too). The rules follow the field data: `json_validate_failed` and
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
