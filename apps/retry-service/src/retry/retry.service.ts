import {
  chunkBySize,
  createEvent,
  type EventEnvelope,
  MAX_EVENT_BYTES,
  type PermanentFailure,
  type RequestsFailedPayload,
  Topic,
} from '#contracts';
import { crashPoint, OutboxRepository, ServiceTracer, TraceAttribute } from '#platform';
import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { decideRetry, type RetryPolicy } from './classify-failure.js';
import { FailureRepository } from './failure.repository.js';

export const RETRY_POLICY = Symbol('RETRY_POLICY');

const tracer = new ServiceTracer('retry-service');

export interface RetryOutcome {
  requeued: number;
  permanent: number;
  skipped: number;
}

/**
 * Decides, for each failed request, between another pass (through the Batch API again: the request is
 * queued for the retry-service's assembler) and a terminal failure carrying every attempt's reason.
 */
@Injectable()
export class RetryService {
  constructor(
    @Inject(FailureRepository) private readonly failures: FailureRepository,
    @Inject(OutboxRepository) private readonly outbox: OutboxRepository,
    @Inject(RETRY_POLICY) private readonly policy: RetryPolicy,
  ) {}

  async handle(event: EventEnvelope<RequestsFailedPayload>, manager: EntityManager): Promise<RetryOutcome> {
    const outcome: RetryOutcome = { requeued: 0, permanent: 0, skipped: 0 };
    const permanent: PermanentFailure[] = [];
    for (const failure of event.payload.failures) {
      await this.failures.recordAttempt(manager, failure);
      crashPoint('retry:mid-write');
      const state = await this.failures.lockRequest(manager, failure.request.requestId, failure.request.promptVersion);
      // Only the attempt the request is currently on may move it: a late or repeated report of an
      // older attempt, a request already settled, or content edited since, changes nothing.
      if (
        state &&
        (state.status !== 'in_flight' || state.attempt !== failure.request.attempt || state.content_hash !== failure.request.contentHash)
      ) {
        outcome.skipped++;
        continue;
      }
      const decision = decideRetry(
        {
          code: failure.code,
          message: failure.message,
          httpStatus: failure.httpStatus,
          model: failure.model,
          maxTokens: failure.maxTokens,
          // The budget is per text: attempts of an earlier version of the PR do not count.
          attempt: failure.request.attempt - (state?.first_attempt ?? 1) + 1,
        },
        this.policy,
      );
      const step = { [TraceAttribute.batchId]: failure.batchId, [TraceAttribute.pass]: failure.pass, 'cascade.error.code': failure.code };
      if (decision.kind === 'retry' && state) {
        await this.failures.requeue(manager, failure, decision);
        // The next pass continues the request's trace: the request row keeps its traceparent.
        tracer.requestStep('request retry', failure.request, { ...step, [TraceAttribute.outcome]: 'requeued', [TraceAttribute.model]: decision.model, 'cascade.reason': decision.reason });
        outcome.requeued++;
        continue;
      }
      tracer.requestStep('request retry', failure.request, { ...step, [TraceAttribute.outcome]: 'permanent' });
      const attempts = await this.failures.attemptsOf(manager, failure.request.requestId, failure.request.promptVersion, state?.first_attempt ?? 1);
      permanent.push({
        request: failure.request,
        code: decision.kind === 'permanent' ? decision.code : failure.code,
        reason: decision.kind === 'permanent' ? decision.reason : 'the request is unknown to this pipeline: it cannot be re-sent',
        attempts,
      });
      if (state) await this.failures.markAwaitingMerge(manager, failure);
      outcome.permanent++;
    }
    const parts = chunkBySize(permanent, MAX_EVENT_BYTES);
    for (const [index, chunk] of parts.entries()) {
      await this.outbox.enqueue(
        manager,
        Topic.RequestsFailedPermanently,
        createEvent(
          Topic.RequestsFailedPermanently,
          { part: index + 1, parts: parts.length, failures: chunk },
          { correlationId: event.correlationId, causationId: event.eventId, producer: 'retry-service' },
        ),
      );
    }
    return outcome;
  }
}
