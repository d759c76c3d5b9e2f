import { Ajv } from 'ajv';
import { type PrAnalysis, prAnalysisJsonSchema } from './pr-analysis.schema.js';

/**
 * Our own check of every returned content. Strict mode at the provider exists only on some models,
 * and `json_object` mode guarantees JSON but not our shape, so nothing is stored unchecked. On top of
 * the provider schema: bounds strict mode cannot express.
 */
const validationSchema = {
  ...prAnalysisJsonSchema,
  properties: {
    ...prAnalysisJsonSchema.properties,
    summary: { type: 'string', minLength: 1, maxLength: 4_000 },
    ai_evidence: { type: 'string', maxLength: 4_000 },
    ai_tools: { ...prAnalysisJsonSchema.properties.ai_tools, uniqueItems: true },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
  },
};

const ajv = new Ajv({ allErrors: false, strict: true });
const check = ajv.compile<PrAnalysis>(validationSchema);

export type ValidationResult = { ok: true; value: PrAnalysis } | { ok: false; error: string };

export function validatePrAnalysis(content: string): ValidationResult {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (error) {
    return { ok: false, error: `content is not JSON: ${(error as Error).message}` };
  }
  if (check(value)) return { ok: true, value };
  const first = check.errors?.[0];
  return { ok: false, error: `content breaks the schema at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}` };
}

/**
 * Groq's strict mode accepts only schemas where every property is required, every object closes
 * `additionalProperties`, and no type is null. Checked here so a schema change cannot slip through.
 */
export function strictModeProblems(schema: unknown, path = '#'): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const node = schema as { type?: unknown; properties?: Record<string, unknown>; required?: unknown; additionalProperties?: unknown; items?: unknown };
  const problems: string[] = [];
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (types.includes('null')) problems.push(`${path}: null type`);
  if (node.type === 'object' || node.properties) {
    if (node.additionalProperties !== false) problems.push(`${path}: additionalProperties must be false`);
    const required = new Set(Array.isArray(node.required) ? (node.required as string[]) : []);
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      if (!required.has(key)) problems.push(`${path}/properties/${key}: not in required`);
      problems.push(...strictModeProblems(child, `${path}/properties/${key}`));
    }
  }
  if (node.items) problems.push(...strictModeProblems(node.items, `${path}/items`));
  return problems;
}
