import { z } from 'zod';
import { PrAnalysisResult } from '../batch-completed/batch-completed.event.js';
import { ModelName, Part, PositiveInt, RequestId, RequestMetadata, text } from '../../primitives.js';

export const REQUESTS_SETTLED_TYPE = 'RequestsSettled';

/** Never sent: the guard excluded it (e.g. an empty body). */
export const ExcludedRequest = z.object({
  request: RequestMetadata,
  outcome: z.literal('excluded'),
  reason: text({ min: 1, max: 500 }),
});

/** Answered at $0 from an earlier analysis of the same content and prompt version (the response cache). */
export const ReusedRequest = z.object({
  request: RequestMetadata,
  outcome: z.literal('reused'),
  analysis: PrAnalysisResult,
  model: ModelName,
  pass: PositiveInt,
  reusedFrom: RequestId,
});

export const SettledRequest = z.discriminatedUnion('outcome', [ExcludedRequest, ReusedRequest]);
export type SettledRequest = z.infer<typeof SettledRequest>;

/**
 * Requests the batch-submitter settled without a provider call. The result-writer, the one writer of
 * terminal records, records them and announces them on results.merged.v1 like every other request.
 */
export const RequestsSettledPayload = z.object({
  ...Part,
  settled: z.array(SettledRequest).min(1),
});
export type RequestsSettledPayload = z.infer<typeof RequestsSettledPayload>;
