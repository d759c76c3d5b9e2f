import type { ErrorObject, ValidateFunction } from 'ajv';
import { OUR_CODES } from '../outcome.js';
import { DEFAULT_PROMPT_VERSION, type PrAnalysis, RESULT_TEXT_MAX_CHARS } from './pr-analysis.schema.js';
import { type PromptRegistry, promptRegistry } from './prompt-registry.js';

/** Flags kept per answer, and their length: bounded, as the BatchCompleted contract is. */
export const MAX_NORMALISED_FLAGS = 20;
export const MAX_FLAG_CHARS = 200;

export type PrAnalysisValidation =
  | {
      ok: true;
      value: PrAnalysis;
      /** Harmless deviations that were normalised, e.g. `ai_tools: removed 1 repeated item`; empty when none. */
      normalised: string[];
    }
  | {
      ok: false;
      code: typeof OUR_CODES.schemaInvalid;
      /** One line for a failure record, e.g. `content breaks the schema: /risk_level: must be one of low, medium, high`. */
      error: string;
      /** Every problem as `path: message`, the path in JSON-pointer form (`/` is the whole object). */
      errors: string[];
      raw: string;
    };

function describe(error: ErrorObject): string {
  const path = error.instancePath || '/';
  if (error.keyword === 'required') return `${path}: missing required property ${(error.params as { missingProperty: string }).missingProperty}`;
  if (error.keyword === 'additionalProperties') {
    return `${path}: unexpected property ${(error.params as { additionalProperty: string }).additionalProperty}`;
  }
  if (error.keyword === 'enum') return `${path}: must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return `${path}: ${error.message ?? error.keyword}`;
}

const FENCED = /^```[A-Za-z]*[ \t]*\r?\n?([\s\S]*?)\r?\n?```$/;

/** Whitespace and a code fence around the JSON: text the model added around a valid answer. */
function unwrap(content: string, flags: string[]): string {
  let text = content.trim();
  if (text !== content) flags.push('content: removed surrounding whitespace');
  const fenced = FENCED.exec(text);
  if (fenced) {
    text = fenced[1]!.trim();
    flags.push('content: removed a code fence');
  }
  return text;
}

const pathOf = (path: string) => path.replace(/^\//, '') || '(root)';

/** Repeated items of any array: a list of labels said twice is the same list. */
function dedupeArrays(value: unknown, path: string, flags: string[]): unknown {
  if (Array.isArray(value)) {
    const seen = new Set<string>();
    const kept = value.filter((item) => {
      const key = JSON.stringify(item);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const removed = value.length - kept.length;
    if (removed > 0) flags.push(`${pathOf(path)}: removed ${removed} repeated item${removed === 1 ? '' : 's'}`);
    return kept.map((item, i) => dedupeArrays(item, `${path}/${i}`, flags));
  }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, dedupeArrays(child, `${path}/${key}`, flags)]));
  }
  return value;
}

/** The stored result's own bounds, which the sent schema does not state: kept, and said. */
function fitResult(analysis: PrAnalysis, flags: string[]): PrAnalysis {
  const fitted = { ...analysis };
  if (fitted.summary.trim() === '') flags.push('summary: empty');
  for (const key of ['summary', 'ai_evidence'] as const) {
    if (fitted[key].length > RESULT_TEXT_MAX_CHARS) {
      flags.push(`${key}: cut from ${fitted[key].length} to ${RESULT_TEXT_MAX_CHARS} characters`);
      fitted[key] = fitted[key].slice(0, RESULT_TEXT_MAX_CHARS);
    }
  }
  if (fitted.confidence < 0 || fitted.confidence > 1) {
    const clamped = Math.min(1, Math.max(0, fitted.confidence));
    flags.push(`confidence: ${fitted.confidence} clamped to ${clamped}`);
    fitted.confidence = clamped;
  }
  return fitted;
}

function bounded(flags: string[]): string[] {
  const kept = flags.slice(0, MAX_NORMALISED_FLAGS).map((flag) => flag.slice(0, MAX_FLAG_CHARS));
  if (flags.length > MAX_NORMALISED_FLAGS) kept[MAX_NORMALISED_FLAGS - 1] = `and ${flags.length - MAX_NORMALISED_FLAGS + 1} more`;
  return kept;
}

/**
 * Parses and checks one returned content against exactly the schema its prompt version sent: only a
 * violation of that schema is `schema_invalid` (and retried). Harmless deviations — whitespace or a
 * code fence around the JSON, a repeated array item, an empty summary, a value past the stored
 * result's bounds — are normalised and flagged, never paid for again.
 */
export function validateAnswer(content: string, check: ValidateFunction): PrAnalysisValidation {
  const flags: string[] = [];
  const text = unwrap(content, flags);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const problem = `content is not JSON: ${(error as Error).message}`;
    return { ok: false, code: OUR_CODES.schemaInvalid, error: problem, errors: [`/: ${problem}`], raw: content };
  }
  if (!check(value)) {
    const errors = (check.errors ?? []).map(describe);
    return {
      ok: false,
      code: OUR_CODES.schemaInvalid,
      error: `content breaks the schema: ${errors.slice(0, 5).join('; ')}${errors.length > 5 ? `; and ${errors.length - 5} more` : ''}`,
      errors,
      raw: content,
    };
  }
  // The registry only admits schemas of the stored result's shape, so a valid value is a PrAnalysis.
  const analysis = fitResult(dedupeArrays(value, '', flags) as PrAnalysis, flags);
  return { ok: true, value: analysis, normalised: bounded(flags) };
}

/** Validates one content against the schema of its prompt version (default pr-analysis-v1). */
export function validatePrAnalysis(
  content: string,
  promptVersion: string = DEFAULT_PROMPT_VERSION,
  registry: PromptRegistry = promptRegistry(),
): PrAnalysisValidation {
  return validateAnswer(content, registry.get(promptVersion).validate);
}
