import { createHash } from 'node:crypto';
import type { PrIngestedPayload } from '#contracts';

/** Phrases that try to talk to the model instead of describing a change. Flagged, still analysed as data. */
const INJECTION_PATTERNS: Array<[string, RegExp]> = [
  ['ignore-instructions', /\b(ignore|disregard|forget)\b[^.\n]{0,40}\b(previous|prior|above|all|earlier|system)\b[^.\n]{0,20}\b(instructions?|prompts?|rules)\b/i],
  ['role-override', /\byou are (now|no longer)\b|\bact as (an?|the)\b[^.\n]{0,30}\b(assistant|model|ai)\b/i],
  ['prompt-exfiltration', /\b(reveal|print|show|repeat)\b[^.\n]{0,30}\b(system prompt|your instructions)\b/i],
  ['chat-markup', /<\/?\s*(system|assistant|user|untrusted_pr)\s*>|<\|im_(start|end)\|>|\[\/?INST\]/i],
  ['output-override', /\b(respond|reply|answer|output)\b[^.\n]{0,20}\bonly\b[^.\n]{0,40}\b(json|with)\b|"ai_assisted"\s*:/i],
];

// C0/C1 control characters other than tab, newline and carriage return.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;

export interface GuardLimits {
  maxBodyChars: number;
  maxReviewChars: number;
  maxReviews: number;
}

/** The PR as it will be shown to the model, plus what the guard did to it. */
export interface GuardedPr {
  exclusion: 'empty_body' | null;
  title: string;
  body: string;
  author: string;
  labels: string[];
  additions: number;
  deletions: number;
  changedFiles: number;
  reviews: Array<{ author: string; body: string }>;
  flags: {
    truncated: boolean;
    originalBodyChars: number;
    injectionSuspected: boolean;
    injectionPatterns: string[];
    controlCharactersRemoved: number;
  };
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  // Do not cut a surrogate pair in half: the JSONL line must stay valid UTF-8.
  let end = max;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

/** Why a PR is never sent, or null: one rule for ingestion and for the replay's dry run. */
export function exclusionOf(pr: Pick<PrIngestedPayload, 'body'>): 'empty_body' | null {
  return pr.body.replace(CONTROL_CHARACTERS, '').trim() === '' ? 'empty_body' : null;
}

export function guardPr(pr: PrIngestedPayload, limits: GuardLimits): GuardedPr {
  let removed = 0;
  const clean = (text: string) =>
    text.replace(CONTROL_CHARACTERS, () => {
      removed += 1;
      return '';
    });
  const rawBody = clean(pr.body);
  const body = truncate(rawBody, limits.maxBodyChars);
  const reviews = pr.reviews
    .slice(0, limits.maxReviews)
    .map((review) => ({ author: clean(review.author), body: truncate(clean(review.body), limits.maxReviewChars) }));
  const scanned = [pr.title, body, ...reviews.map((r) => r.body)].join('\n');
  const injectionPatterns = INJECTION_PATTERNS.filter(([, pattern]) => pattern.test(scanned)).map(([name]) => name);
  return {
    exclusion: exclusionOf(pr),
    title: clean(pr.title),
    body,
    author: clean(pr.author),
    labels: pr.labels.map(clean),
    additions: pr.additions,
    deletions: pr.deletions,
    changedFiles: pr.changedFiles,
    reviews,
    flags: {
      truncated: body.length < rawBody.length,
      originalBodyChars: rawBody.length,
      injectionSuspected: injectionPatterns.length > 0,
      injectionPatterns,
      controlCharactersRemoved: removed,
    },
  };
}

/** Hash of exactly what the model sees: same hash + same prompt version = same answer, reused at $0. */
export function contentHashOf(pr: GuardedPr, repo: string): string {
  const canonical = JSON.stringify([repo, pr.title, pr.body, pr.author, pr.labels, pr.additions, pr.deletions, pr.changedFiles, pr.reviews]);
  return createHash('sha256').update(canonical).digest('hex');
}
