import { z } from 'zod';
import { ModelName, Part, PositiveInt, PromptVersion, RequestMetadata } from '../../primitives.js';

export const REQUESTS_FAILED_TYPE = 'RequestsFailed';

/** One request that did not produce a valid result in one attempt, with everything needed to retry it. */
export const FailedRequest = z.object({
  request: RequestMetadata,
  code: z.string().min(1).max(100),
  message: z.string().max(4_000),
  httpStatus: z.number().int().nullable(),
  failedGeneration: z.string().max(16_000).nullable(),
  model: ModelName,
  pass: PositiveInt,
  maxTokens: PositiveInt,
  batchId: z.string().min(1).max(200),
});
export type FailedRequest = z.infer<typeof FailedRequest>;

export const RequestsFailedPayload = z.object({
  batchId: z.string().min(1).max(200),
  providerBatchId: z.string().max(200).nullable(),
  pass: PositiveInt,
  model: ModelName,
  promptVersion: PromptVersion,
  ...Part,
  failures: z.array(FailedRequest).min(1),
});
export type RequestsFailedPayload = z.infer<typeof RequestsFailedPayload>;
