/**
 * The shape of a stored PR analysis, whatever the prompt version: every version's `schema.json`
 * (prompts/<version>/) must produce it, since reports and the BatchCompleted contract read it.
 * The prompts themselves live in files; changing one means a new version: results are keyed by it.
 */
export const DEFAULT_PROMPT_VERSION = 'pr-analysis-v1';

/** Longest summary or evidence a stored result keeps (the BatchCompleted contract's bound). */
export const RESULT_TEXT_MAX_CHARS = 4_000;

export const CHANGE_TYPES = [
  'feature',
  'bugfix',
  'refactor',
  'docs',
  'test',
  'chore',
  'dependency',
  'performance',
  'security',
  'other',
] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

export const RISK_LEVELS = ['low', 'medium', 'high'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

export const AI_TOOLS = ['CodeRabbit', 'Devin', 'Cubic', 'Claude', 'Cursor', 'Copilot', 'Other'] as const;
export type AiTool = (typeof AI_TOOLS)[number];

export interface PrAnalysis {
  summary: string;
  change_type: ChangeType;
  risk_level: RiskLevel;
  ai_assisted: boolean;
  ai_tools: AiTool[];
  ai_evidence: string;
  confidence: number;
}

export const PR_ANALYSIS_SCHEMA_NAME = 'pr_analysis';

/** The result shape, in Groq's strict dialect (it is pr-analysis-v1's schema; a test keeps the two equal). */
export const prAnalysisJsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['summary', 'change_type', 'risk_level', 'ai_assisted', 'ai_tools', 'ai_evidence', 'confidence'],
  properties: {
    summary: { type: 'string', description: 'Two sentences at most: what the PR changes and why.' },
    change_type: { type: 'string', enum: [...CHANGE_TYPES] },
    risk_level: { type: 'string', enum: [...RISK_LEVELS] },
    ai_assisted: { type: 'boolean', description: 'True when an AI tool wrote or reviewed part of the PR.' },
    ai_tools: { type: 'array', items: { type: 'string', enum: [...AI_TOOLS] } },
    ai_evidence: { type: 'string', description: 'The marker that shows AI involvement, or an empty string.' },
    confidence: { type: 'number', description: 'From 0 to 1.' },
  },
} as const;

type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

function nodeProblems(path: string, want: Node, got: unknown): string[] {
  if (!isNode(got)) return [`${path}: must be a schema object`];
  if (got.type !== want.type) return [`${path}: type must be ${String(want.type)} (got ${JSON.stringify(got.type)})`];
  const problems: string[] = [];
  if (Array.isArray(want.enum)) {
    const allowed = new Set(want.enum as unknown[]);
    if (!Array.isArray(got.enum) || got.enum.length === 0) problems.push(`${path}: enum must list values from ${(want.enum as unknown[]).join(', ')}`);
    else for (const value of got.enum as unknown[]) if (!allowed.has(value)) problems.push(`${path}: enum value ${JSON.stringify(value)} is not one a stored result may hold`);
  }
  if (want.type === 'array') problems.push(...nodeProblems(`${path}/items`, want.items as Node, got.items));
  return problems;
}

/**
 * Why a version's output schema would produce answers a stored result cannot hold: the same
 * properties, each of the same type, enums within the stored ones. Empty when it fits.
 */
export function resultShapeProblems(schema: unknown): string[] {
  if (!isNode(schema) || !isNode(schema.properties)) return ['#: must be an object schema with properties'];
  const problems: string[] = [];
  const properties = schema.properties;
  for (const [key, want] of Object.entries(prAnalysisJsonSchema.properties)) {
    if (!(key in properties)) problems.push(`#/properties/${key}: missing (every stored result has it)`);
    else problems.push(...nodeProblems(`#/properties/${key}`, want as Node, properties[key]));
  }
  for (const key of Object.keys(properties)) {
    if (!(key in prAnalysisJsonSchema.properties)) problems.push(`#/properties/${key}: not a field of a stored result`);
  }
  return problems;
}
