import type { z } from 'zod';
import { envelopeSchema } from './envelope.js';
import { BATCH_COMPLETED_TYPE, BatchCompletedPayload } from './events/batch-completed/batch-completed.event.js';
import { BATCH_SUBMITTED_TYPE, BatchSubmittedPayload } from './events/batch-submitted/batch-submitted.event.js';
import { PR_INGESTED_TYPE, PrIngestedPayload } from './events/pr-ingested/pr-ingested.event.js';
import {
  REQUESTS_FAILED_PERMANENTLY_TYPE,
  RequestsFailedPermanentlyPayload,
} from './events/requests-failed-permanently/requests-failed-permanently.event.js';
import { REQUESTS_FAILED_TYPE, RequestsFailedPayload } from './events/requests-failed/requests-failed.event.js';
import { REQUESTS_SETTLED_TYPE, RequestsSettledPayload } from './events/requests-settled/requests-settled.event.js';
import { RESULTS_MERGED_TYPE, ResultsMergedPayload } from './events/results-merged/results-merged.event.js';
import { Topic } from './topics.js';

/** Payload type per topic: the one map producers and consumers are typed by. */
export interface TopicPayloads {
  [Topic.PrIngested]: z.infer<typeof PrIngestedPayload>;
  [Topic.PrReplayed]: z.infer<typeof PrIngestedPayload>;
  [Topic.BatchSubmitted]: z.infer<typeof BatchSubmittedPayload>;
  [Topic.BatchCompleted]: z.infer<typeof BatchCompletedPayload>;
  [Topic.RequestsFailed]: z.infer<typeof RequestsFailedPayload>;
  [Topic.RequestsFailedPermanently]: z.infer<typeof RequestsFailedPermanentlyPayload>;
  [Topic.RequestsSettled]: z.infer<typeof RequestsSettledPayload>;
  [Topic.ResultsMerged]: z.infer<typeof ResultsMergedPayload>;
}

export interface EventContract<T extends Topic> {
  topic: T;
  type: string;
  version: number;
  payload: z.ZodType<TopicPayloads[T]>;
  envelope: z.ZodType;
  /** The Kafka key: what must stay ordered (one PR, one batch). */
  keyOf(payload: TopicPayloads[T]): string;
}

function contract<T extends Topic>(
  topic: T,
  type: string,
  payload: z.ZodType<TopicPayloads[T]>,
  keyOf: (p: TopicPayloads[T]) => string,
): EventContract<T> {
  const version = Number(/\.v(\d+)$/.exec(topic)?.[1] ?? 1);
  return { topic, type, version, payload, envelope: envelopeSchema(type, version, payload), keyOf };
}

export const CONTRACTS: { [T in Topic]: EventContract<T> } = {
  [Topic.PrIngested]: contract(Topic.PrIngested, PR_INGESTED_TYPE, PrIngestedPayload, (p) => p.requestId),
  [Topic.PrReplayed]: contract(Topic.PrReplayed, PR_INGESTED_TYPE, PrIngestedPayload, (p) => p.requestId),
  [Topic.BatchSubmitted]: contract(Topic.BatchSubmitted, BATCH_SUBMITTED_TYPE, BatchSubmittedPayload, (p) => p.batchId),
  [Topic.BatchCompleted]: contract(Topic.BatchCompleted, BATCH_COMPLETED_TYPE, BatchCompletedPayload, (p) => p.batchId),
  [Topic.RequestsFailed]: contract(Topic.RequestsFailed, REQUESTS_FAILED_TYPE, RequestsFailedPayload, (p) => p.batchId),
  [Topic.RequestsFailedPermanently]: contract(
    Topic.RequestsFailedPermanently,
    REQUESTS_FAILED_PERMANENTLY_TYPE,
    RequestsFailedPermanentlyPayload,
    (p) => p.failures[0]!.request.requestId,
  ),
  [Topic.RequestsSettled]: contract(Topic.RequestsSettled, REQUESTS_SETTLED_TYPE, RequestsSettledPayload, (p) => p.settled[0]!.request.requestId),
  [Topic.ResultsMerged]: contract(Topic.ResultsMerged, RESULTS_MERGED_TYPE, ResultsMergedPayload, (p) => p.resolved[0]!.request.requestId),
};

export function contractOf<T extends Topic>(topic: T): EventContract<T> {
  return CONTRACTS[topic];
}
