import { z } from 'zod';
import { Int32, ModelName, Part, PositiveInt, PromptVersion, RequestMetadata, text } from '../../primitives.js';

export const REQUESTS_FAILED_TYPE = 'RequestsFailed';

/** One request that did not produce a valid result in one attempt, with everything needed to retry it. */
export const FailedRequest = z.object({
  request: RequestMetadata,
  code: text({ min: 1, max: 100 }),
  message: text({ max: 4_000 }),
  httpStatus: Int32.nullable(),
  failedGeneration: text({ max: 16_000 }).nullable(),
  model: ModelName,
  pass: PositiveInt,
  maxTokens: PositiveInt,
  batchId: text({ min: 1, max: 200 }),
});
export type FailedRequest = z.infer<typeof FailedRequest>;

export const RequestsFailedPayload = z.object({
  batchId: text({ min: 1, max: 200 }),
  providerBatchId: text({ max: 200 }).nullable(),
  pass: PositiveInt,
  model: ModelName,
  promptVersion: PromptVersion,
  ...Part,
  failures: z.array(FailedRequest).min(1),
});
export type RequestsFailedPayload = z.infer<typeof RequestsFailedPayload>;
