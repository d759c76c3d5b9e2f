import type { EventEnvelope, PrIngestedPayload, RequestMetadata } from '#contracts';
import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { SUBMITTER_SETTINGS, type SubmitterSettings } from '../batch-submitter.settings.js';
import { contentHashOf, guardPr } from './prompt-guard.js';
import { RequestRepository } from './request.repository.js';

export type IngestionOutcome = 'queued' | 'excluded' | 'reused' | 'unchanged' | 'requeued';

/**
 * Accepts one ingested PR: guard it, then either exclude it (never sent), answer it from an earlier
 * identical analysis at $0, or queue it for the next batch. Runs inside the consumer's transaction.
 */
@Injectable()
export class IngestionService {
  constructor(
    @Inject(RequestRepository) private readonly requests: RequestRepository,
    @Inject(SUBMITTER_SETTINGS) private readonly settings: SubmitterSettings,
  ) {}

  async accept(event: EventEnvelope<PrIngestedPayload>, manager: EntityManager): Promise<IngestionOutcome> {
    const pr = event.payload;
    const promptVersion = pr.promptVersion ?? this.settings.promptVersion;
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
    const existing = await this.requests.lockExisting(manager, pr.requestId, promptVersion);
    // A replay of the same PR text under the same prompt version changes nothing and costs nothing.
    if (existing && existing.content_hash === metadata.contentHash) return 'unchanged';

    const stored = { ...guarded, createdAt: pr.createdAt, mergedAt: pr.mergedAt, firstReviewAt: pr.firstReviewAt };
    if (guarded.exclusion) {
      await this.requests.upsert(manager, { metadata, pr: stored, status: 'excluded', stage: 'excluded', exclusionReason: guarded.exclusion, model: null, maxTokens: null });
      await this.requests.writeTerminalResult(manager, metadata, { status: 'excluded', reason: guarded.exclusion });
      return 'excluded';
    }
    const reusable = await this.requests.findReusableResult(manager, metadata.contentHash, promptVersion, this.settings.cacheTtlHours);
    if (reusable) {
      await this.requests.upsert(manager, { metadata, pr: stored, status: 'succeeded', stage: 'reused', exclusionReason: null, model: null, maxTokens: null, cache: 'hit' });
      await this.requests.writeTerminalResult(manager, metadata, {
        status: 'succeeded',
        analysis: reusable.analysis,
        model: reusable.model,
        pass: reusable.pass,
        reusedFrom: reusable.request_id,
      });
      return 'reused';
    }
    await this.requests.upsert(manager, { metadata, pr: stored, status: 'pending',
      stage: 'queued',
      exclusionReason: null,
      model: this.settings.modelChain[0]!,
      maxTokens: this.settings.maxTokens,
      cache: 'miss',
    });
    return existing ? 'requeued' : 'queued';
  }
}
