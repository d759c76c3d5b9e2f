import { z } from 'zod';
import { IsoDateTime, NonNegativeInt, PositiveInt, PromptVersion, RequestId, text } from '../../primitives.js';

export const PR_INGESTED_TYPE = 'PrIngested';

export const PrReview = z.object({
  author: text({ max: 200 }),
  body: text({ max: 65_536 }),
  submittedAt: IsoDateTime.optional(),
});

/** Published by upstream sync services, one per PR, keyed by `requestId`. Any language may produce it. */
export const PrIngestedPayload = z.object({
  requestId: RequestId,
  team: text({ min: 1, max: 200 }),
  repo: text({ min: 1, max: 300 }),
  prNumber: PositiveInt,
  title: text({ max: 2_000 }),
  body: text({ max: 900_000 }),
  author: text({ max: 200 }),
  labels: z.array(text({ max: 200 })).max(100).default([]),
  additions: NonNegativeInt.default(0),
  deletions: NonNegativeInt.default(0),
  changedFiles: NonNegativeInt.default(0),
  createdAt: IsoDateTime,
  mergedAt: IsoDateTime.nullable().default(null),
  firstReviewAt: IsoDateTime.nullable().default(null),
  reviews: z.array(PrReview).max(500).default([]),
  /** Set by replays that re-analyse history with another prompt; absent means the current version. */
  promptVersion: PromptVersion.optional(),
  /**
   * When the analysis is needed by. With DEADLINES=on, a request whose batch cannot answer before it is
   * answered through the provider's on-demand API at full price; absent: the team's default, if any.
   */
  deadlineAt: IsoDateTime.optional(),
});
export type PrIngestedPayload = z.infer<typeof PrIngestedPayload>;
export type PrIngestedKey = string;
