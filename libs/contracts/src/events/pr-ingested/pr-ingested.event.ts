import { z } from 'zod';
import { IsoDateTime, NonNegativeInt, PositiveInt, PromptVersion, RequestId } from '../../primitives.js';

export const PR_INGESTED_TYPE = 'PrIngested';

export const PrReview = z.object({
  author: z.string().max(200),
  body: z.string().max(65_536),
  submittedAt: IsoDateTime.optional(),
});

/** Published by upstream sync services, one per PR, keyed by `requestId`. Any language may produce it. */
export const PrIngestedPayload = z.object({
  requestId: RequestId,
  team: z.string().min(1).max(200),
  repo: z.string().min(1).max(300),
  prNumber: PositiveInt,
  title: z.string().max(2_000),
  body: z.string().max(900_000),
  author: z.string().max(200),
  labels: z.array(z.string().max(200)).max(100).default([]),
  additions: NonNegativeInt.default(0),
  deletions: NonNegativeInt.default(0),
  changedFiles: NonNegativeInt.default(0),
  createdAt: IsoDateTime,
  mergedAt: IsoDateTime.nullable().default(null),
  firstReviewAt: IsoDateTime.nullable().default(null),
  reviews: z.array(PrReview).max(500).default([]),
  /** Set by replays that re-analyse history with another prompt; absent means the current version. */
  promptVersion: PromptVersion.optional(),
});
export type PrIngestedPayload = z.infer<typeof PrIngestedPayload>;
export type PrIngestedKey = string;
