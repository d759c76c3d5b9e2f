import { randomUUID } from 'node:crypto';
import {
  chunkBySize,
  createEvent,
  type FailedRequest,
  MAX_EVENT_BYTES,
  type SucceededRequest,
  Topic,
} from '#contracts';
import { TERMINAL_BATCH_STATUSES } from '#groq-batch';
import { crashPoint, inTransaction, OutboxRelay, OutboxRepository, PeriodicTask, ROOT_LOGGER, ServiceTracer, spanContextOf, TraceAttribute } from '#platform';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource, type EntityManager } from 'typeorm';
import { PipelineMetrics } from '../metrics/pipeline-metrics.js';
import { BatchTrackingRepository, type TrackedBatch } from '../tracking/batch-tracking.repository.js';
import { BATCH_OUTCOME_READERS, type BatchOutcomeReaders, type CollectedOutcome, type ProviderBatchState } from './batch-outcome.port.js';

export const POLLER_SETTINGS = Symbol('POLLER_SETTINGS');

export interface PollerSettings {
  tickMs: number;
  concurrency: number;
  leaseMs: number;
  firstPollDelayMs: number;
  maxPollDelayMs: number;
  stageDeadlineMs: number;
  /** A failed input-file delete is tried again once its batch has been finished this long, by a sweep run at most this often. */
  inputCleanupRetryMs: number;
  autoStart: boolean;
}

const PRODUCER = 'poller';
const tracer = new ServiceTracer(PRODUCER);
/** What the batch events of an on-demand batch name as its provider batch (it has none). */
export const ON_DEMAND_PROVIDER_BATCH_ID = 'on-demand';
/** Deletes one sweep makes, together: a provider that refuses them all holds the tick for one call's retries. */
const INPUT_CLEANUP_BATCH = 20;

/**
 * Polls every tracked batch under a lease (several replicas never poll one batch together), with
 * backoff; on a terminal status, collects every sent id's outcome and publishes the results and the
 * failures through the outbox in the transaction that marks the batch finished. Then deletes the
 * batch's input file at the provider (it holds PR text and takes up provider storage); a failed delete
 * is retried by the tick loop's occasional sweep.
 */
@Injectable()
export class PollerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly owner = `poller-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly loop: PeriodicTask;
  private nextInputCleanupAt = 0;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(BatchTrackingRepository) private readonly tracking: BatchTrackingRepository,
    @Inject(BATCH_OUTCOME_READERS) private readonly readers: BatchOutcomeReaders,
    @Inject(OutboxRepository) private readonly outbox: OutboxRepository,
    @Inject(OutboxRelay) private readonly relay: OutboxRelay,
    @Inject(ROOT_LOGGER) private readonly rootLogger: Logger,
    @Inject(POLLER_SETTINGS) private readonly settings: PollerSettings,
    @Inject(PipelineMetrics) private readonly metrics: Pick<PipelineMetrics, 'recordFinishedBatch'>,
  ) {
    // The tick logs its own failures: the loop's message is for what escapes them.
    this.loop = new PeriodicTask(() => this.tick(), this.logger, { intervalMs: settings.tickMs, failureMessage: 'poll tick failed; will retry' });
  }

  private get logger(): Logger {
    return this.rootLogger.child({ component: 'poller' });
  }

  onApplicationBootstrap(): void {
    if (this.settings.autoStart) this.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  start(): void {
    this.loop.start();
  }

  /** The due polls, then, at most once per `inputCleanupRetryMs`, the input files whose delete failed. */
  private async tick(): Promise<void> {
    await this.pollDue().catch((error: unknown) => this.logger.warn({ err: error }, 'poll pass failed; will retry'));
    if (Date.now() < this.nextInputCleanupAt) return;
    this.nextInputCleanupAt = Date.now() + this.settings.inputCleanupRetryMs;
    await this.deleteInputFilesLeft().catch((error: unknown) => this.logger.warn({ err: error }, 'input file cleanup failed; will retry'));
  }

  /** One pass over the batches that are due; returns how many were finished. */
  async pollDue(): Promise<number> {
    const due = await inTransaction(this.dataSource, (m) =>
      this.tracking.claimDue(m, this.owner, this.settings.concurrency, this.settings.leaseMs),
    );
    const finished = await Promise.all(due.map((batch) => this.pollOne(batch)));
    return finished.filter(Boolean).length;
  }

  private delayFor(batch: TrackedBatch): number {
    return Math.min(this.settings.maxPollDelayMs, this.settings.firstPollDelayMs * 1.5 ** batch.poll_count);
  }

  /**
   * Polls one batch while renewing its lease every third of POLL_LEASE_MS: a long download keeps the batch
   * this replica's, and a replica that dies leaves it to another within one short lease.
   */
  private async pollOne(batch: TrackedBatch): Promise<boolean> {
    const log = this.logger.child({ batchId: batch.batch_id, providerBatchId: batch.provider_batch_id });
    const heartbeat = setInterval(() => {
      this.tracking
        .renewLease(this.dataSource.manager, batch.batch_id, this.owner, this.settings.leaseMs)
        .then((held) => held || log.warn('lost the lease on the batch; another replica may take it'))
        .catch((error: unknown) => log.warn({ err: error }, 'renewing the lease failed'));
    }, Math.max(100, Math.floor(this.settings.leaseMs / 3)));
    let finished: boolean;
    try {
      finished = await this.pollTraced(batch, log);
    } finally {
      clearInterval(heartbeat);
    }
    // After the heartbeat: a finished batch has no lease left to renew.
    if (finished && batch.input_file_id) await this.deleteInputFile(batch, batch.input_file_id, log);
    return finished;
  }

  /**
   * Input files of finished batches whose delete failed (or was never made: a replica that stopped between
   * the finish and the delete), finished at least `inputCleanupRetryMs` ago so a delete under way is not raced.
   */
  private async deleteInputFilesLeft(): Promise<void> {
    const left = await this.tracking.inputFilesLeft(this.dataSource.manager, this.settings.inputCleanupRetryMs, INPUT_CLEANUP_BATCH);
    await Promise.all(left.map((batch) => this.deleteInputFile(batch, batch.input_file_id, this.logger.child({ batchId: batch.batch_id }))));
  }

  /** Never throws: the batch stays finished and recorded whatever the provider answers; the sweep tries again. */
  private async deleteInputFile(batch: { batch_id: string; model: string }, inputFileId: string, log: Logger): Promise<void> {
    try {
      await this.readers.for(batch.model).deleteInputFile(inputFileId);
      await this.tracking.markInputFileDeleted(this.dataSource.manager, batch.batch_id);
    } catch (error) {
      log.warn({ err: error, inputFileId }, 'deleting the input file at the provider failed; will retry');
    }
  }

  /** A poll is a span of the batch's trace: what it publishes, and the requests it collects, follow from it. */
  private async pollTraced(batch: TrackedBatch, log: Logger): Promise<boolean> {
    const submitted = spanContextOf(batch.traceparent);
    const parent = submitted ? trace.setSpanContext(ROOT_CONTEXT, submitted) : ROOT_CONTEXT;
    const attributes = { [TraceAttribute.batchId]: batch.batch_id, [TraceAttribute.pass]: batch.pass, [TraceAttribute.model]: batch.model };
    return tracer.inSpan('batch poll', { parent, attributes }, async (span) => {
      const finished = await this.pollHeld(batch, log);
      span?.setAttribute('cascade.finished', finished);
      return finished;
    });
  }

  private async pollHeld(batch: TrackedBatch, log: Logger): Promise<boolean> {
    try {
      // Every part of BatchSubmitted must have arrived: the item list is what we reconcile against.
      if (batch.known_items < batch.request_count) {
        await this.tracking.reschedule(this.dataSource.manager, batch.batch_id, this.owner, 'awaiting_items', {}, this.settings.firstPollDelayMs);
        return false;
      }
      const reader = this.readers.for(batch.model);
      // A polled batch is a provider batch (claimDue reads mode 'batch' only): it has its provider id.
      const state = await reader.retrieve(batch.provider_batch_id!);
      if (!TERMINAL_BATCH_STATUSES.has(state.status)) {
        await this.tracking.reschedule(this.dataSource.manager, batch.batch_id, this.owner, state.status, state.counts, this.delayFor(batch));
        return false;
      }
      const sent = await this.tracking.itemsOf(this.dataSource.manager, batch.batch_id);
      const outcome = await reader.collect(
        state,
        { batchId: batch.batch_id, batchKey: batch.batch_key, pass: batch.pass, model: batch.model, promptVersion: batch.prompt_version, maxTokens: batch.max_tokens },
        sent,
      );
      if (outcome.succeeded.length + outcome.failed.length !== sent.length) {
        throw new Error(
          `reconciliation of batch ${batch.batch_id} accounts for ${outcome.succeeded.length + outcome.failed.length} of ${sent.length} sent ids`,
        );
      }
      crashPoint('poll:after-download');
      return await this.settle(batch, state, outcome, log);
    } catch (error) {
      log.warn({ err: error }, 'polling the batch failed; retrying later');
      await this.tracking
        .reschedule(this.dataSource.manager, batch.batch_id, this.owner, 'poll_error', {}, this.delayFor(batch), (error as Error).message)
        .catch(() => undefined);
      return false;
    }
  }

  /**
   * Records a finished batch — a provider batch or an on-demand one (`DeadlineService`) — if `owner` still
   * holds its lease: the batch finished with what it is billed, each request moved on, and the outcomes
   * published through the outbox, in one transaction. Lines whose request an on-demand call took over
   * (`batch_items.superseded_by`) are billed with the batch but never published: their request's one
   * terminal record comes from the on-demand answer. Both take the batch row's lock first (here `finish`,
   * there the claim's `FOR SHARE`), so a line is either taken over before the batch finishes or published.
   */
  async settle(batch: TrackedBatch, state: ProviderBatchState, outcome: CollectedOutcome, log: Logger, owner = this.owner): Promise<boolean> {
    for (const anomaly of outcome.anomalies) log.warn({ anomaly }, 'output anomaly');
    const finished = await inTransaction(this.dataSource, async (manager) => {
      const mine = await this.tracking.finish(manager, {
        batchId: batch.batch_id,
        owner,
        providerStatus: state.status,
        outputFileId: state.outputFileId,
        errorFileId: state.errorFileId,
        counts: state.counts,
        cost: outcome.cost,
      });
      if (!mine) return null;
      await this.tracking.recordOutcomes(
        manager,
        batch.batch_id,
        outcome.succeeded.map((s) => s.request),
        outcome.failed.map((f) => f.request),
        this.settings.stageDeadlineMs,
      );
      const superseded = new Set(await this.tracking.supersededIn(manager, batch.batch_id));
      const live = <T extends { request: { requestId: string } }>(items: T[]) => items.filter((item) => !superseded.has(item.request.requestId));
      const published = { succeeded: live(outcome.succeeded), failed: live(outcome.failed) };
      await this.publish(manager, batch, state.status, published.succeeded, published.failed);
      return published;
    });
    if (finished) {
      this.relay.kick();
      this.metrics.recordFinishedBatch(batch, finished.succeeded.length, finished.failed.map((f) => f.code));
      this.traceCollected(batch, finished.succeeded, finished.failed);
      log.info(
        {
          status: state.status,
          succeeded: outcome.succeeded.length,
          failed: outcome.failed.length,
          costUsd: outcome.cost.totalUsd,
          estimatedUsd: outcome.cost.estimated.usd,
        },
        'batch finished',
      );
    }
    return finished !== null;
  }

  /** Each collected request's step in its own trace (none while tracing is off, or for a request without a trace). */
  private traceCollected(batch: TrackedBatch, succeeded: SucceededRequest[], failed: FailedRequest[]): void {
    const where = { [TraceAttribute.batchId]: batch.batch_id, [TraceAttribute.pass]: batch.pass, [TraceAttribute.model]: batch.model };
    for (const { request } of succeeded) tracer.requestStep('request collect', request, { ...where, [TraceAttribute.outcome]: 'succeeded' });
    for (const { request, code } of failed) tracer.requestStep('request collect', request, { ...where, [TraceAttribute.outcome]: 'failed', 'cascade.error.code': code });
  }

  private async publish(
    manager: EntityManager,
    batch: TrackedBatch,
    providerStatus: string,
    succeeded: SucceededRequest[],
    failed: FailedRequest[],
  ): Promise<void> {
    const correlationId = `batch:${batch.batch_id}`;
    // An on-demand batch has no provider batch: the event names the mode instead.
    const providerBatchId = batch.provider_batch_id ?? ON_DEMAND_PROVIDER_BATCH_ID;
    const resultParts = succeeded.length > 0 ? chunkBySize(succeeded, MAX_EVENT_BYTES) : [];
    for (const [index, results] of resultParts.entries()) {
      await this.outbox.enqueue(
        manager,
        Topic.BatchCompleted,
        createEvent(
          Topic.BatchCompleted,
          {
            batchId: batch.batch_id,
            providerBatchId,
            providerStatus,
            pass: batch.pass,
            model: batch.model,
            promptVersion: batch.prompt_version,
            requestCount: batch.request_count,
            part: index + 1,
            parts: resultParts.length,
            results,
          },
          { correlationId, producer: PRODUCER },
        ),
      );
    }
    const failureParts = failed.length > 0 ? chunkBySize(failed, MAX_EVENT_BYTES) : [];
    for (const [index, failures] of failureParts.entries()) {
      await this.outbox.enqueue(
        manager,
        Topic.RequestsFailed,
        createEvent(
          Topic.RequestsFailed,
          {
            batchId: batch.batch_id,
            providerBatchId,
            pass: batch.pass,
            model: batch.model,
            promptVersion: batch.prompt_version,
            part: index + 1,
            parts: failureParts.length,
            failures,
          },
          { correlationId, producer: PRODUCER },
        ),
      );
    }
  }
}
