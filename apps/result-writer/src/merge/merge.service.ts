import {
  type BatchCompletedPayload,
  chunkBySize,
  createEvent,
  type EventEnvelope,
  MAX_EVENT_BYTES,
  type RequestMetadata,
  type RequestsFailedPermanentlyPayload,
  type RequestsSettledPayload,
  type ResolvedRequest,
  Topic,
} from '#contracts';
import { crashPoint, OutboxRepository, ServiceTracer, TraceAttribute } from '#platform';
import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { type ResolvedKey, ResultRepository } from './result.repository.js';

const PRODUCER = 'result-writer';
const tracer = new ServiceTracer(PRODUCER);

/**
 * Writes terminal records (results and permanent failures), merges the passes, and announces the
 * final status of every request it resolved — in the consumer's transaction, through the outbox.
 */
@Injectable()
export class MergeService {
  constructor(
    @Inject(ResultRepository) private readonly results: ResultRepository,
    @Inject(OutboxRepository) private readonly outbox: OutboxRepository,
  ) {}

  async mergeResults(event: EventEnvelope<BatchCompletedPayload>, manager: EntityManager): Promise<ResolvedRequest[]> {
    const { payload } = event;
    if (payload.results.length === 0) return [];
    const keys = await this.results.recordSuccesses(manager, payload.batchId, payload.results);
    crashPoint('merge:mid-write');
    await this.results.settleRequests(manager, payload.results.map((r) => keyOf(r.request)));
    const resolved = this.pick(keys, payload.results, (result) => ({
      request: result.request,
      status: 'succeeded',
      model: result.model,
      pass: result.pass,
      code: null,
    }));
    await this.announce(event, manager, resolved);
    return resolved;
  }

  async recordPermanentFailures(
    event: EventEnvelope<RequestsFailedPermanentlyPayload>,
    manager: EntityManager,
  ): Promise<ResolvedRequest[]> {
    const { failures } = event.payload;
    const keys = await this.results.recordPermanentFailures(manager, failures);
    await this.results.settleRequests(manager, failures.map((f) => keyOf(f.request)));
    const resolved = this.pick(keys, failures, (failure) => {
      const last = failure.attempts[failure.attempts.length - 1]!;
      return { request: failure.request, status: 'failed', model: last.model, pass: last.pass, code: failure.code };
    });
    await this.announce(event, manager, resolved);
    return resolved;
  }

  /** Excluded and cache-answered requests: their terminal records, written here like every other. */
  async recordSettled(event: EventEnvelope<RequestsSettledPayload>, manager: EntityManager): Promise<ResolvedRequest[]> {
    const { settled } = event.payload;
    const keys = await this.results.recordSettled(manager, settled);
    await this.results.settleRequests(manager, settled.map((s) => keyOf(s.request)));
    const resolved = this.pick(keys, settled, (settlement) =>
      settlement.outcome === 'excluded'
        ? { request: settlement.request, status: 'excluded', model: null, pass: null, code: settlement.reason.slice(0, 100) }
        : { request: settlement.request, status: 'succeeded', model: settlement.model, pass: settlement.pass, code: null },
    );
    await this.announce(event, manager, resolved);
    return resolved;
  }

  /** The items whose terminal record this event wrote (by request id AND prompt version), as announced. */
  private pick<T extends { request: RequestMetadata }>(keys: ResolvedKey[], items: readonly T[], build: (item: T) => ResolvedRequest): ResolvedRequest[] {
    const resolved = new Set(keys.map((k) => `${k.prompt_version}\u0000${k.request_id}`));
    return items.filter((item) => resolved.has(`${item.request.promptVersion}\u0000${item.request.requestId}`)).map(build);
  }

  private async announce(cause: EventEnvelope<unknown>, manager: EntityManager, resolved: ResolvedRequest[]): Promise<void> {
    if (resolved.length === 0) return;
    // The last step of each request's trace: its terminal record.
    for (const { request, status, model, pass, code } of resolved) {
      tracer.requestStep('request resolve', request, {
        [TraceAttribute.outcome]: status,
        ...(model ? { [TraceAttribute.model]: model } : {}),
        ...(pass ? { [TraceAttribute.pass]: pass } : {}),
        ...(code ? { 'cascade.error.code': code } : {}),
      });
    }
    const parts = chunkBySize(resolved, MAX_EVENT_BYTES);
    for (const [index, chunk] of parts.entries()) {
      await this.outbox.enqueue(
        manager,
        Topic.ResultsMerged,
        createEvent(
          Topic.ResultsMerged,
          { part: index + 1, parts: parts.length, resolved: chunk },
          { correlationId: cause.correlationId, causationId: cause.eventId, producer: PRODUCER },
        ),
      );
    }
  }
}

function keyOf(request: RequestMetadata): ResolvedKey & { content_hash: string } {
  return { request_id: request.requestId, prompt_version: request.promptVersion, content_hash: request.contentHash };
}
