/**
 * What the router knows of a request before it is sent: its size, the shape of its body, what the guard
 * did to it, and how often pass 1 failed before for its repository and its author. Every feature is a
 * number; `FEATURE_NAMES` gives their order, stored with each model version so a version is read back
 * with the features it was trained on.
 */
export const FEATURE_NAMES = [
  'prompt_tokens_log2',
  'title_chars',
  'body_chars_log2',
  'changed_files',
  'additions_log2',
  'code_blocks',
  'markup_lines',
  'truncated',
  'injection_suspected',
  'repo_failure_rate',
  'author_failure_rate',
  'prompt_version',
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];

/** The request as stored at ingestion (the guarded PR), plus its prompt's input-token estimate. */
export interface RoutingInput {
  repo: string;
  author: string;
  title: string;
  body: string;
  additions: number;
  changedFiles: number;
  flags?: { truncated?: boolean; injectionSuspected?: boolean };
  promptVersion: string;
  /** `estimateInputTokens(requestBodyChars(body))` of the pass-1 request line. */
  promptTokens: number;
}

/** Pass-1 attempts and content failures seen so far, per repository and per author. */
export interface FailureHistory {
  repos: ReadonlyMap<string, { attempts: number; failures: number }>;
  authors: ReadonlyMap<string, { attempts: number; failures: number }>;
  /** The overall pass-1 failure rate, what a newcomer is assumed to have. */
  overallRate: number;
}

export const EMPTY_HISTORY: FailureHistory = { repos: new Map(), authors: new Map(), overallRate: 0 };

// A few attempts say little: the rate is pulled towards the overall one as if this many more attempts
// had failed at it (additive smoothing).
const PRIOR_ATTEMPTS = 20;

export function smoothedRate(counts: { attempts: number; failures: number } | undefined, overallRate: number): number {
  const attempts = counts?.attempts ?? 0;
  const failures = counts?.failures ?? 0;
  return (failures + PRIOR_ATTEMPTS * overallRate) / (attempts + PRIOR_ATTEMPTS);
}

const MARKUP_LINE = /^\s*(#{1,6}\s|[-*+]\s\[[ xX]\]|\|.*\||>\s|<\/?[a-zA-Z][^>]*>|<!--)/;

export function codeBlocksOf(body: string): number {
  return Math.floor((body.match(/^\s*```/gm)?.length ?? 0) / 2);
}

export function markupLinesOf(body: string): number {
  return body.split('\n').filter((line) => MARKUP_LINE.test(line)).length;
}

/** `pr-analysis-v2` → 2: later versions are assumed to be refinements of earlier ones. */
export function promptVersionNumber(promptVersion: string): number {
  return Number(/-v(\d+)$/.exec(promptVersion)?.[1] ?? 0);
}

export function featureVector(input: RoutingInput, history: FailureHistory): number[] {
  const byName: Record<FeatureName, number> = {
    prompt_tokens_log2: Math.log2(1 + input.promptTokens),
    title_chars: input.title.length,
    body_chars_log2: Math.log2(1 + input.body.length),
    changed_files: input.changedFiles,
    additions_log2: Math.log2(1 + input.additions),
    code_blocks: codeBlocksOf(input.body),
    markup_lines: markupLinesOf(input.body),
    truncated: input.flags?.truncated ? 1 : 0,
    injection_suspected: input.flags?.injectionSuspected ? 1 : 0,
    repo_failure_rate: smoothedRate(history.repos.get(input.repo), history.overallRate),
    author_failure_rate: smoothedRate(history.authors.get(input.author), history.overallRate),
    prompt_version: promptVersionNumber(input.promptVersion),
  };
  return FEATURE_NAMES.map((name) => byName[name]);
}

/** The history of a set of pass-1 outcomes, for training (from the training rows only) or scoring. */
export function historyOf(outcomes: ReadonlyArray<{ repo: string; author: string; failed: boolean }>): FailureHistory {
  const repos = new Map<string, { attempts: number; failures: number }>();
  const authors = new Map<string, { attempts: number; failures: number }>();
  let failures = 0;
  for (const outcome of outcomes) {
    for (const [map, key] of [
      [repos, outcome.repo],
      [authors, outcome.author],
    ] as const) {
      const counts = map.get(key) ?? { attempts: 0, failures: 0 };
      counts.attempts++;
      if (outcome.failed) counts.failures++;
      map.set(key, counts);
    }
    if (outcome.failed) failures++;
  }
  return { repos, authors, overallRate: outcomes.length === 0 ? 0 : failures / outcomes.length };
}
