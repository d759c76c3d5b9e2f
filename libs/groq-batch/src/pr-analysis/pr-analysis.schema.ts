/**
 * The output contract of the PR-analysis task, in Groq's strict JSON-schema dialect:
 * every property required, `additionalProperties: false`, no null types ("none" / "" instead).
 * Changing the schema or the prompt means a new PROMPT_VERSION: results are keyed by it.
 */
export const PROMPT_VERSION = 'pr-analysis-v1';

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

/** The schema sent to the provider (strict mode accepts no min/max keywords, so it stays plain). */
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
