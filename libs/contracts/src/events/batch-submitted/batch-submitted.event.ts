import { z } from 'zod';
import { IsoDateTime, ModelName, Part, PositiveInt, PromptVersion, RequestMetadata, text } from '../../primitives.js';

export const BATCH_SUBMITTED_TYPE = 'BatchSubmitted';

/** A provider batch was created; carries the metadata of every request in it (split across parts). */
export const BatchSubmittedPayload = z.object({
  batchId: text({ min: 1, max: 200 }),
  batchKey: text({ min: 1, max: 200 }),
  /** The batch API the batch went to (its model's provider). */
  provider: z.enum(['groq', 'openai', 'anthropic']),
  providerBatchId: text({ min: 1, max: 200 }),
  /** The uploaded input file; `inline` where the requests went with the create (Anthropic). */
  inputFileId: text({ min: 1, max: 200 }),
  pass: PositiveInt,
  model: ModelName,
  promptVersion: PromptVersion,
  maxTokens: PositiveInt,
  submittedAt: IsoDateTime,
  requestCount: PositiveInt,
  ...Part,
  requests: z.array(RequestMetadata).min(1),
});
export type BatchSubmittedPayload = z.infer<typeof BatchSubmittedPayload>;
export type BatchSubmittedKey = string;
