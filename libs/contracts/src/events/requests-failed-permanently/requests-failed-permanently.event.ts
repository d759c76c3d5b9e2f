import { z } from 'zod';
import { Int32, ModelName, Part, PositiveInt, RequestMetadata, text } from '../../primitives.js';

export const REQUESTS_FAILED_PERMANENTLY_TYPE = 'RequestsFailedPermanently';

export const FailedAttempt = z.object({
  attempt: PositiveInt,
  pass: PositiveInt,
  model: ModelName,
  batchId: text({ min: 1, max: 200 }),
  code: text({ min: 1, max: 100 }),
  message: text({ max: 4_000 }),
  httpStatus: Int32.nullable(),
});
export type FailedAttempt = z.infer<typeof FailedAttempt>;

export const PermanentFailure = z.object({
  request: RequestMetadata,
  code: text({ min: 1, max: 100 }),
  reason: text({ min: 1, max: 4_000 }),
  attempts: z.array(FailedAttempt).min(1),
});
export type PermanentFailure = z.infer<typeof PermanentFailure>;

/** Requests that will not be retried again: a permanent error, or the attempts or the model chain ran out. */
export const RequestsFailedPermanentlyPayload = z.object({
  ...Part,
  failures: z.array(PermanentFailure).min(1),
});
export type RequestsFailedPermanentlyPayload = z.infer<typeof RequestsFailedPermanentlyPayload>;
