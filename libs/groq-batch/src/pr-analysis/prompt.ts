import { DEFAULT_STRICT_MODELS } from '../config.js';
import { DEFAULT_PROMPT_VERSION } from './pr-analysis.schema.js';
import { type JsonSchema, type PromptRegistry, promptRegistry, type TemplatePlaceholder } from './prompt-registry.js';

/** What the prompt needs of a PR (the batch-submitter stores exactly this, already guarded). */
export interface PrForAnalysis {
  repo: string;
  title: string;
  body: string;
  author: string;
  labels?: readonly string[];
  additions: number;
  deletions: number;
  changedFiles: number;
  /** Review texts, when the sync has them (AI reviewers show up here). */
  reviews?: ReadonlyArray<{ author: string; body: string; state?: string }>;
}

export interface PrAnalysisRequestOptions {
  model: string;
  maxTokens: number;
  /** The version the results are recorded under: its files give the prompt and schema (default pr-analysis-v1). */
  promptVersion?: string;
  /** Models that accept `strict: true` JSON schema; others get best-effort `strict: false`. */
  strictModels?: readonly string[];
  /** Where the versions are read: a service passes the registry of its PROMPTS_DIR (default: the shipped `prompts/` folder). */
  registry?: PromptRegistry;
}

export type ChatMessage = { role: 'system' | 'user'; content: string };

/** The chat-completions body of one batch line. */
export type PrAnalysisRequestBody = {
  model: string;
  messages: ChatMessage[];
  response_format: {
    type: 'json_schema';
    json_schema: { name: string; strict: boolean; schema: JsonSchema };
  };
  max_tokens: number;
  temperature: number;
};

/** Neutralises our own delimiter inside untrusted text so the PR cannot close the data block early. */
function fence(text: string): string {
  return text.replace(/<\s*\/?\s*untrusted_pr\s*>/gi, (tag) => tag.replace('<', '‹').replace('>', '›'));
}

export function supportsStrictSchema(model: string, strictModels: readonly string[] = DEFAULT_STRICT_MODELS): boolean {
  return strictModels.includes(model);
}

/** The value of each template placeholder for one PR; PR text is fenced. */
function placeholderValues(pr: PrForAnalysis): Record<TemplatePlaceholder, string> {
  const reviews = (pr.reviews ?? [])
    .filter((r) => r.body.trim() !== '')
    .map((r) => `- review by ${r.author}${r.state ? ` (${r.state})` : ''}: ${r.body}`)
    .join('\n');
  const labels = pr.labels ?? [];
  return {
    repo: fence(pr.repo),
    author: fence(pr.author),
    title: fence(pr.title),
    labels: fence(labels.join(', ') || '(none)'),
    additions: String(pr.additions),
    deletions: String(pr.deletions),
    changedFiles: String(pr.changedFiles),
    body: fence(pr.body.trim() === '' ? '(empty)' : pr.body),
    reviews: reviews ? `reviews:\n${fence(reviews)}` : 'reviews: (none)',
  };
}

/** Fills the template in one pass, so a PR that contains `{{title}}` is never expanded. */
export function renderUserPrompt(template: string, pr: PrForAnalysis): string {
  const values = placeholderValues(pr);
  return template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => (name in values ? values[name as TemplatePlaceholder] : whole));
}

/**
 * The chat-completions body for one PR at one prompt version: that version's system prompt, its user
 * template with the PR as delimited untrusted data, and its schema. Strict JSON-schema output on the
 * models that support it, best-effort elsewhere (the content is validated on return either way).
 */
export function buildPrAnalysisRequest(pr: PrForAnalysis, options: PrAnalysisRequestOptions): PrAnalysisRequestBody {
  const version = (options.registry ?? promptRegistry()).get(options.promptVersion ?? DEFAULT_PROMPT_VERSION);
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1) {
    throw new RangeError(`maxTokens must be a positive integer (got ${options.maxTokens}) for model ${options.model}`);
  }
  return {
    model: options.model,
    messages: [
      { role: 'system', content: version.system },
      { role: 'user', content: renderUserPrompt(version.userTemplate, pr) },
    ],
    response_format: {
      type: 'json_schema',
      json_schema: { name: version.schemaName, strict: supportsStrictSchema(options.model, options.strictModels), schema: version.schema },
    },
    max_tokens: options.maxTokens,
    temperature: 0,
  };
}
