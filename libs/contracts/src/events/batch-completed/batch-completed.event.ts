import { z } from 'zod';
import { AI_TOOLS, CHANGE_TYPES, RESULT_TEXT_MAX_CHARS, RISK_LEVELS } from '../../../../groq-batch/src/pr-analysis/pr-analysis.schema.js';
import { ModelName, NonNegativeInt, Part, PositiveInt, PromptVersion, RequestMetadata, text, TokenUsage } from '../../primitives.js';

export const BATCH_COMPLETED_TYPE = 'BatchCompleted';

/** The stored result of every prompt version; answers are normalised into these bounds (and flagged), not refused. */
export const PrAnalysisResult = z.strictObject({
  summary: text({ max: RESULT_TEXT_MAX_CHARS }),
  change_type: z.enum(CHANGE_TYPES),
  risk_level: z.enum(RISK_LEVELS),
  ai_assisted: z.boolean(),
  ai_tools: z.array(z.enum(AI_TOOLS)),
  ai_evidence: text({ max: RESULT_TEXT_MAX_CHARS }),
  confidence: z.number().min(0).max(1),
});
export type PrAnalysisResult = z.infer<typeof PrAnalysisResult>;

export const SucceededRequest = z.object({
  request: RequestMetadata,
  analysis: PrAnalysisResult,
  model: ModelName,
  pass: PositiveInt,
  usage: TokenUsage,
  /** Stored as numeric(14, 8). */
  costUsd: z.number().nonnegative().max(999_999),
  /** Harmless deviations normalised in the answer, e.g. `ai_tools: removed 1 repeated item` (absent in older events). */
  normalised: z.array(text({ min: 1, max: 200 })).max(20).optional(),
});
export type SucceededRequest = z.infer<typeof SucceededRequest>;

/** The validated results of one finished provider batch (chunked: each part stays under the broker's limit). */
export const BatchCompletedPayload = z.object({
  batchId: text({ min: 1, max: 200 }),
  providerBatchId: text({ min: 1, max: 200 }),
  providerStatus: text({ min: 1, max: 50 }),
  pass: PositiveInt,
  model: ModelName,
  promptVersion: PromptVersion,
  requestCount: NonNegativeInt,
  ...Part,
  results: z.array(SucceededRequest),
});
export type BatchCompletedPayload = z.infer<typeof BatchCompletedPayload>;
