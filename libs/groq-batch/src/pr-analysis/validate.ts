import { Ajv, type ErrorObject } from 'ajv';
import { OUR_CODES } from '../outcome.js';
import { type PrAnalysis, prAnalysisJsonSchema } from './pr-analysis.schema.js';

/** "Two sentences at most": anything longer is a model rambling, not a summary. */
export const SUMMARY_MAX_CHARS = 1_000;
export const EVIDENCE_MAX_CHARS = 1_000;

/**
 * Our own check of every returned content. Strict mode exists only on some models, and best-effort
 * or `json_object` output guarantees at most JSON, so nothing is stored unchecked. On top of the
 * provider schema: the bounds strict mode cannot express.
 */
const validationSchema = {
  ...prAnalysisJsonSchema,
  properties: {
    ...prAnalysisJsonSchema.properties,
    summary: { ...prAnalysisJsonSchema.properties.summary, minLength: 1, maxLength: SUMMARY_MAX_CHARS },
    ai_evidence: { ...prAnalysisJsonSchema.properties.ai_evidence, maxLength: EVIDENCE_MAX_CHARS },
    ai_tools: { ...prAnalysisJsonSchema.properties.ai_tools, uniqueItems: true },
    confidence: { ...prAnalysisJsonSchema.properties.confidence, minimum: 0, maximum: 1 },
  },
};

const ajv = new Ajv({ allErrors: true, strict: true });
const check = ajv.compile<PrAnalysis>(validationSchema);

export type PrAnalysisValidation =
  | { ok: true; value: PrAnalysis }
  | {
      ok: false;
      code: typeof OUR_CODES.schemaInvalid;
      /** One line for a failure record, e.g. `content breaks the schema: /confidence must be <= 1`. */
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

/** Parses and checks one returned content: the typed analysis, or `schema_invalid` with every path at fault. */
export function validatePrAnalysis(content: string): PrAnalysisValidation {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (error) {
    const problem = `content is not JSON: ${(error as Error).message}`;
    return { ok: false, code: OUR_CODES.schemaInvalid, error: problem, errors: [`/: ${problem}`], raw: content };
  }
  if (check(value)) return { ok: true, value };
  const errors = (check.errors ?? []).map(describe);
  return {
    ok: false,
    code: OUR_CODES.schemaInvalid,
    error: `content breaks the schema: ${errors.slice(0, 5).join('; ')}${errors.length > 5 ? `; and ${errors.length - 5} more` : ''}`,
    errors,
    raw: content,
  };
}
