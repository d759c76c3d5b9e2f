import {
  chunkBySize,
  createEvent,
  type EventEnvelope,
  MAX_EVENT_BYTES,
  type PrIngestedPayload,
  type RequestMetadata,
  type SettledRequest,
  Topic,
} from '#contracts';
import { deadlineOf } from '#batching';
import { consumedContextOf, OutboxRepository, RefusedEvent, ServiceTracer, TraceAttribute } from '#platform';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { SUBMITTER_SETTINGS, type SubmitterSettings } from '../batch-submitter.settings.js';
import { contentHashOf, guardPr } from './prompt-guard.js';
import { type NewRequest, RequestRepository } from './request.repository.js';
import { RoutingService } from './routing.service.js';

export type IngestionOutcome = 'queued' | 'excluded' | 'reused' | 'unchanged' | 'requeued' | 'stale';

const tracer = new ServiceTracer('batch-submitter');

interface Prepared {
  key: string;
  metadata: RequestMetadata;
  stored: NewRequest['pr'];
  exclusion: string | null;
  deadlineAt: string | null;
}

/**
 * Accepts ingested PRs: guard each, then either exclude it (never sent), answer it from an earlier
 * identical analysis at $0, or queue it for the next batch. Runs inside the consumer's transaction, a
 * whole Kafka batch at a time: a few statements per batch, not per PR. Excluded and reused requests wait
 * in `awaiting_merge` for the result-writer, which writes every terminal record (requests.settled.v1).
 */
@Injectable()
export class IngestionService {
  constructor(
    @Inject(RequestRepository) private readonly requests: RequestRepository,
    @Inject(SUBMITTER_SETTINGS) private readonly settings: SubmitterSettings,
    @Inject(OutboxRepository) private readonly outbox: OutboxRepository,
    // Optional: an ingestion without a router (as in tests that build the service by hand) starts every request on the chain's first model.
    @Optional() @Inject(RoutingService) private readonly routing?: RoutingService,
  ) {}

  async accept(event: EventEnvelope<PrIngestedPayload>, manager: EntityManager): Promise<IngestionOutcome> {
    const [outcome] = await this.acceptMany([event], manager);
    return outcome!;
  }

  /**
   * The outcome of each event, in order, exactly as if they had been accepted one after the other: a
   * later event for the same request sees the earlier one (same text: 'unchanged'; new text: it
   * replaces it, 'requeued'), so only the last version of each request is written. A copy with other text
   * that the upstream observed before the stored one ('stale': a replayed or re-driven old copy, arriving
   * after a newer one) changes nothing: the `occurredAt` of the copy a request holds is kept with it.
   */
  async acceptMany(events: Array<EventEnvelope<PrIngestedPayload>>, manager: EntityManager): Promise<IngestionOutcome[]> {
    const prepared = events.map((event) => this.prepare(event));
    const keys = [...new Map(prepared.map((p) => [p.key, { requestId: p.metadata.requestId, promptVersion: p.metadata.promptVersion }])).values()];
    const existing = await this.requests.lockExisting(manager, keys);
    const currentHash = new Map(existing.map((row) => [keyOf(row.request_id, row.prompt_version), row.content_hash]));
    const currentSince = new Map(existing.map((row) => [keyOf(row.request_id, row.prompt_version), row.source_occurred_at ? Date.parse(row.source_occurred_at) : null]));
    const sendable = prepared.filter((p) => !p.exclusion && currentHash.get(p.key) !== p.metadata.contentHash);
    const reusable = new Map(
      (await this.requests.findReusableResults(manager, sendable.map((p) => p.metadata), this.settings.cacheTtlHours)).map((r) => [
        keyOf(r.content_hash, r.prompt_version),
        r,
      ]),
    );

    const upserts = new Map<string, NewRequest>();
    // The last settlement per request: a later pending version does not remove it (as one at a time), and
    // the result-writer ignores it as stale when its content hash is no longer the request's.
    const settled = new Map<string, { cause: EventEnvelope<PrIngestedPayload>; settlement: SettledRequest }>();
    const outcomes = prepared.map(({ key, metadata, stored, exclusion, deadlineAt }, index): IngestionOutcome => {
      const cause = events[index]!;
      const previous = currentHash.get(key);
      // A replay of the same PR text under the same prompt version changes nothing and costs nothing.
      if (previous === metadata.contentHash) return 'unchanged';
      const since = currentSince.get(key);
      const occurredAt = Date.parse(cause.occurredAt);
      if (previous !== undefined && since != null && occurredAt < since) return 'stale';
      currentHash.set(key, metadata.contentHash);
      currentSince.set(key, occurredAt);
      // Each new text is a new analysis, with a trace of its own: its steps in every service join it.
      const outcome = exclusion ? 'excluded' : reusable.has(keyOf(metadata.contentHash, metadata.promptVersion)) ? 'reused' : previous === undefined ? 'queued' : 'requeued';
      const traceparent = tracer.startRequest('request accept', metadata, { [TraceAttribute.outcome]: outcome }, consumedContextOf(cause));
      if (traceparent) metadata.traceparent = traceparent;
      if (exclusion) {
        upserts.set(key, { metadata, pr: stored, occurredAt: cause.occurredAt, deadlineAt, status: 'in_flight', stage: 'awaiting_merge', exclusionReason: exclusion, model: null, maxTokens: null });
        settled.set(key, { cause, settlement: { request: metadata, outcome: 'excluded', reason: exclusion } });
        return 'excluded';
      }
      const reused = reusable.get(keyOf(metadata.contentHash, metadata.promptVersion));
      if (reused) {
        upserts.set(key, { metadata, pr: stored, occurredAt: cause.occurredAt, deadlineAt, status: 'in_flight', stage: 'awaiting_merge', exclusionReason: null, model: reused.model, maxTokens: null, cache: 'hit' });
        settled.set(key, {
          cause,
          settlement: { request: metadata, outcome: 'reused', analysis: reused.analysis, model: reused.model, pass: reused.pass, reusedFrom: reused.request_id },
        });
        return 'reused';
      }
      upserts.set(key, {
        metadata,
        pr: stored,
        occurredAt: cause.occurredAt,
        deadlineAt,
        status: 'pending',
        stage: 'queued',
        exclusionReason: null,
        // The first model is chosen below, for all queued requests at once (routing.firstModels).
        model: this.settings.modelChain[0]!,
        maxTokens: this.settings.maxTokens,
        cache: 'miss',
      });
      return outcome;
    });
    if (this.routing) {
      const queued = [...upserts.values()].filter((request) => request.status === 'pending');
      const firstModels = await this.routing.firstModels(manager, queued);
      queued.forEach((request, i) => (request.model = firstModels[i]!));
    }
    await this.requests.upsert(manager, [...upserts.values()]);
    await this.announceSettled(manager, [...settled.values()]);
    return outcomes;
  }

  /** One requests.settled.v1 event per chunk, through the outbox in this transaction. */
  private async announceSettled(
    manager: EntityManager,
    settled: Array<{ cause: EventEnvelope<PrIngestedPayload>; settlement: SettledRequest }>,
  ): Promise<void> {
    if (settled.length === 0) return;
    const parts = chunkBySize(settled.map((s) => s.settlement), MAX_EVENT_BYTES);
    // Each request keeps its own correlation id in its metadata; the envelope names the first of the chunk.
    const first = settled[0]!.cause;
    for (const [index, chunk] of parts.entries()) {
      await this.outbox.enqueue(
        manager,
        Topic.RequestsSettled,
        createEvent(Topic.RequestsSettled, { part: index + 1, parts: parts.length, settled: chunk }, {
          correlationId: chunk[0]!.request.correlationId,
          causationId: first.eventId,
          producer: 'batch-submitter',
        }),
      );
    }
  }

  private prepare(event: EventEnvelope<PrIngestedPayload>): Prepared {
    const pr = event.payload;
    const promptVersion = pr.promptVersion ?? this.settings.promptVersion;
    // Stored, it would be claimed into a batch that can never be built: refuse it before it is stored.
    if (!this.settings.prompts.has(promptVersion)) {
      throw new RefusedEvent(
        `unknown prompt version ${JSON.stringify(promptVersion)} for request ${pr.requestId} (known: ${this.settings.prompts.ids().join(', ')})`,
        'payload.promptVersion',
      );
    }
    const guarded = guardPr(pr, this.settings.guard);
    const metadata: RequestMetadata = {
      requestId: pr.requestId,
      correlationId: event.correlationId,
      team: pr.team,
      repo: pr.repo,
      prNumber: pr.prNumber,
      promptVersion,
      attempt: 1,
      contentHash: contentHashOf(guarded, pr.repo),
    };
    const stored = { ...guarded, createdAt: pr.createdAt, mergedAt: pr.mergedAt, firstReviewAt: pr.firstReviewAt };
    // Stored with the request's row, so it follows that row's rule: a copy with the same text changes nothing.
    const deadlineAt = deadlineOf(pr, event.occurredAt, this.settings.deadlineDefaults ?? {});
    return { key: keyOf(pr.requestId, promptVersion), metadata, stored, exclusion: guarded.exclusion, deadlineAt };
  }
}

function keyOf(a: string, b: string): string {
  return JSON.stringify([a, b]);
}
