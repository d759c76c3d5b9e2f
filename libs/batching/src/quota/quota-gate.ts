import type { SubmissionHold } from '#platform';
import type { ModelUsage } from './quota-store.js';

/** Limits for one model; unset means unlimited. */
export interface ModelLimits {
  requestsPerMinute?: number;
  requestsPerDay?: number;
  tokensPerMinute?: number;
  tokensPerDay?: number;
}

export interface LineEstimate {
  /** Input tokens (estimated) plus the output budget the line may use. */
  tokens: number;
  /** The most the line can cost: its tokens at the model's batch price. */
  costUsd: number;
}

export interface Admission {
  /** How many of the lines, in order, fit within every limit. */
  admitted: number;
  /** The limit that stopped the rest, if any. */
  limit?: Pick<SubmissionHold, 'kind' | 'reason'>;
}

const n = (value: number) => Math.round(value).toLocaleString('en-US');
const usd = (value: number) => `$${value.toFixed(4)}`;

/**
 * Admits lines in order while the model's per-minute and per-day counters and the day's spend stay
 * within their limits. A batch that would cross a limit is split at that line; none admitted means
 * submission waits (until the next minute, or the next UTC day for daily limits and the spend budget).
 */
export function admitLines(
  model: string,
  lines: readonly LineEstimate[],
  usage: ModelUsage,
  spentTodayUsd: number,
  limits: ModelLimits,
  dailySpendBudgetUsd?: number,
): Admission {
  let requestsMinute = usage.minute.requests;
  let requestsDay = usage.day.requests;
  let tokensMinute = usage.minute.tokens;
  let tokensDay = usage.day.tokens;
  let spent = spentTodayUsd;
  for (const [index, line] of lines.entries()) {
    const exceeded = firstExceeded();
    if (exceeded) return { admitted: index, limit: exceeded };
    requestsMinute += 1;
    requestsDay += 1;
    tokensMinute += line.tokens;
    tokensDay += line.tokens;
    spent += line.costUsd;

    function firstExceeded(): Admission['limit'] | undefined {
      if (dailySpendBudgetUsd !== undefined && spent + line.costUsd > dailySpendBudgetUsd) {
        return {
          kind: 'spend_budget',
          reason: `daily spend budget ${usd(dailySpendBudgetUsd)} reached: ${usd(spent)} committed today (billed for finished batches, reserved for open ones), the next request may cost up to ${usd(line.costUsd)}; new submissions wait for open batches to settle, 00:00 UTC or a higher DAILY_SPEND_BUDGET_USD`,
        };
      }
      if (limits.tokensPerDay !== undefined && tokensDay + line.tokens > limits.tokensPerDay) {
        return {
          kind: 'token_budget',
          reason: `daily token budget of ${model} reached: ${n(tokensDay)} of ${n(limits.tokensPerDay)} tokens used today, the next request needs up to ${n(line.tokens)}; waits until 00:00 UTC`,
        };
      }
      if (limits.requestsPerDay !== undefined && requestsDay + 1 > limits.requestsPerDay) {
        return { kind: 'request_quota', reason: `${model}: ${n(requestsDay)} of ${n(limits.requestsPerDay)} requests per day used; waits until 00:00 UTC` };
      }
      if (limits.tokensPerMinute !== undefined && tokensMinute + line.tokens > limits.tokensPerMinute) {
        // One line larger than the whole per-minute allowance could never pass: let it through alone.
        if (!(tokensMinute === 0 && line.tokens > limits.tokensPerMinute)) {
          return { kind: 'token_quota', reason: `${model}: ${n(tokensMinute)} of ${n(limits.tokensPerMinute)} tokens per minute used; waits for the next minute` };
        }
      }
      if (limits.requestsPerMinute !== undefined && requestsMinute + 1 > limits.requestsPerMinute) {
        return { kind: 'request_quota', reason: `${model}: ${n(requestsMinute)} of ${n(limits.requestsPerMinute)} requests per minute used; waits for the next minute` };
      }
      return undefined;
    }
  }
  return { admitted: lines.length };
}

/** The size the input estimate is taken from: the request body as it is serialised into the batch file. */
export function requestBodyChars(body: unknown): number {
  return JSON.stringify(body).length;
}

/**
 * Input tokens of one request line, estimated from its body (about 4 characters per token): what quotas
 * count before sending, and what a billed failed line whose error carries no usage is costed at.
 */
export function estimateInputTokens(requestBodyChars: number): number {
  return Math.ceil(requestBodyChars / 4);
}

/** Tokens a line may use: its input (estimated) plus its whole output budget. */
export function estimateLine(requestBodyChars: number, maxTokens: number, price: { inputPerMillion: number; outputPerMillion: number }): LineEstimate {
  const input = estimateInputTokens(requestBodyChars);
  return { tokens: input + maxTokens, costUsd: (input * price.inputPerMillion + maxTokens * price.outputPerMillion) / 1_000_000 };
}
