/**
 * How likely a line of the cheap model is to go wrong. `random`: every line fails at the profile's
 * `failureRate`, whatever it reads (today's behaviour). `features`: the chance grows with what the request
 * reads — a long prompt, code blocks and markup in the PR body, a large diff — so that a router trained on
 * Cascade's own records has something to learn. The dependence is an assumption, not a measurement: the
 * field data gives only the overall rate and the mix of failures (see the README).
 */
export type FailureModel = 'random' | 'features';

/** What the simulator reads from a request line to decide its failure chance under `features`. */
export interface RequestSignals {
  promptTokens: number;
  codeBlocks: number;
  markupLines: number;
  additions: number;
}

// Failures cluster in hard requests: the field's per-batch failure rates ran from 2.3 % to 57.8 %, which a
// rate independent of the content would not give. So the chance is a floor that no request escapes (a
// seventh of `failureRate`: what no router can foresee) plus a steep logistic in what the request reads:
// log-odds `STEEPNESS` × the weighted signals, offset so that a plain request sits at the floor, a request
// with three code blocks, a checklist and a large diff near `MAX_FAILURE_CHANCE`, and the overall rate on
// a realistic mix stays near `failureRate` (see the README's figures).
const WEIGHTS = { promptDoublings: 0.9, codeBlocks: 0.75, markupLines: 0.12, additionDoublings: 0.35 } as const;
const STEEPNESS = 5;
const REFERENCE_PROMPT_TOKENS = 700;
const PLAIN_OFFSET = -15.85;
const FLOOR_SHARE = 0.15;
const MAX_FAILURE_CHANCE = 0.9;

const MARKUP_LINE = /^\s*(#{1,6}\s|[-*+]\s\[[ xX]\]|\|.*\||>\s|<\/?[a-zA-Z][^>]*>|<!--)/;

/** The signals of a request, from the user text of its prompt (`size: +A -D in F files` gives the additions). */
export function requestSignals(userText: string, promptTokens: number): RequestSignals {
  const fences = userText.match(/^\s*```/gm)?.length ?? 0;
  const markupLines = userText.split('\n').filter((line) => MARKUP_LINE.test(line)).length;
  const additions = Number(/size: \+(\d+)/.exec(userText)?.[1] ?? 0);
  return { promptTokens, codeBlocks: Math.floor(fences / 2), markupLines, additions };
}

function logit(p: number): number {
  return Math.log(p / (1 - p));
}

/** The chance that a line fails (json_validate_failed or output too long) under the given model. */
export function failureChance(model: FailureModel, failureRate: number, signals: RequestSignals): number {
  if (model === 'random' || failureRate <= 0) return failureRate;
  if (failureRate >= 1) return 1;
  const weighted =
    WEIGHTS.promptDoublings * Math.max(0, Math.log2(signals.promptTokens / REFERENCE_PROMPT_TOKENS)) +
    WEIGHTS.codeBlocks * Math.min(signals.codeBlocks, 6) +
    WEIGHTS.markupLines * Math.min(signals.markupLines, 20) +
    WEIGHTS.additionDoublings * Math.log2(1 + signals.additions / 400);
  const floor = failureRate * FLOOR_SHARE;
  const z = logit(failureRate) + PLAIN_OFFSET + STEEPNESS * weighted;
  return floor + (MAX_FAILURE_CHANCE - floor) / (1 + Math.exp(-z));
}
