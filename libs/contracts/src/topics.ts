/** Every topic Cascade reads or writes; the version is part of the name so a breaking change is a new topic. */
export enum Topic {
  PrIngested = 'pr.ingested.v1',
  /** Re-feeds of pr.ingested.v1 history (`cascade replay`, dead-letter re-drives): the topic of record is never appended to. */
  PrReplayed = 'pr.replayed.v1',
  BatchSubmitted = 'batch.submitted.v1',
  BatchCompleted = 'batch.completed.v1',
  RequestsFailed = 'requests.failed.v1',
  RequestsFailedPermanently = 'requests.failed-permanently.v1',
  /** Excluded and cache-answered requests, settled by the batch-submitter without a provider call. */
  RequestsSettled = 'requests.settled.v1',
  ResultsMerged = 'results.merged.v1',
}

export const ALL_TOPICS: readonly Topic[] = Object.values(Topic);

/** Invalid messages of `topic` go to `<topic>.dlq` with the original bytes and the reason. */
export function dlqTopicOf(topic: string): string {
  return `${topic}.dlq`;
}
