import { randomUUID } from 'node:crypto';
import { type BatchRow, dailySpend, type DeadlineSettings, estimateLine, onDemandRefusal, type ProviderSet, requestBodyChars } from '#batching';
import { type PriceTable, priceOf } from '#groq-batch';
import { inTransaction, PeriodicTask, ROOT_LOGGER } from '#platform';
import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource, type EntityManager } from 'typeorm';
import { batchOutcomeOf } from '../polling/batch-outcome.js';
import type { BatchToCollect, ProviderBatchState } from '../polling/batch-outcome.port.js';
import { ON_DEMAND_PROVIDER_BATCH_ID, POLLER_SETTINGS, type PollerSettings, PollerService } from '../polling/poller.service.js';
import { StoredRequestPromptEstimator } from '../polling/prompt-token.estimator.js';
import { BatchTrackingRepository, type TrackedBatch } from '../tracking/batch-tracking.repository.js';
import { DeadlineRepository, type DueRequest } from './deadline.repository.js';
import type { OnDemandAnswerer } from './on-demand-answerers.js';

export const DEADLINE_SETTINGS = Symbol('DEADLINE_SETTINGS');
export const ON_DEMAND_ANSWERERS = Symbol('ON_DEMAND_ANSWERERS');
/** What the deadline sweep prices with: the price table at on-demand (full) prices. */
export const ON_DEMAND_CONTEXT = Symbol('ON_DEMAND_CONTEXT');

export interface OnDemandContext {
  prices: PriceTable;
}

/** Requests one sweep takes over at most: a sweep's calls finish within a few leases. */
const CLAIM_LIMIT = 200;

/**
 * Deadlines (DEADLINES=on): a request whose batch cannot answer before its deadline (less
 * DEADLINE_MARGIN_MS) is answered through its provider's on-demand API at full price. Each sweep takes the
 * due requests over into an on-demand batch (a `batches` row of mode `on_demand`, leased like a poll, its
 * worst case reserved against ON_DEMAND_DAILY_BUDGET_USD before any call), calls the provider for each with
 * the body its batch line has, reads every answer as a batch result line, and records the batch through the
 * poller's own finish (`PollerService.settle`), so its outcomes reach the result-writer and the retry-service
 * through the same events. A caller that dies leaves its batch to another replica within one lease, which
 * calls again: a call may be paid twice, a request is never recorded twice nor lost.
 */
@Injectable()
export class DeadlineService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly owner = `deadlines-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly loop: PeriodicTask;
  /** The last budget refusal logged: logged again only when it changes. */
  private lastRefusal: string | null = null;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(DeadlineRepository) private readonly deadlines: DeadlineRepository,
    @Inject(BatchTrackingRepository) private readonly tracking: BatchTrackingRepository,
    @Inject(PollerService) private readonly poller: PollerService,
    @Inject(ON_DEMAND_ANSWERERS) private readonly answerers: ProviderSet<OnDemandAnswerer>,
    @Inject(ON_DEMAND_CONTEXT) private readonly context: OnDemandContext,
    @Inject(DEADLINE_SETTINGS) private readonly settings: DeadlineSettings | null,
    @Inject(POLLER_SETTINGS) private readonly pollerSettings: PollerSettings,
    @Inject(ROOT_LOGGER) private readonly rootLogger: Logger,
  ) {
    this.loop = new PeriodicTask(() => this.sweep(), this.logger, { intervalMs: pollerSettings.tickMs, failureMessage: 'deadline sweep failed; will retry' });
  }

  private get logger(): Logger {
    return this.rootLogger.child({ component: 'deadlines' });
  }

  onApplicationBootstrap(): void {
    if (this.settings && this.pollerSettings.autoStart) this.loop.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /** Why the last sweep stopped short of a due request (the on-demand budget), or null. */
  get refusal(): string | null {
    return this.lastRefusal;
  }

  /** One sweep: on-demand batches left by a caller that stopped, then the requests newly due. Returns how many requests were answered. */
  async sweep(): Promise<number> {
    if (!this.settings) return 0;
    let answered = 0;
    for (let batch = await this.leaseInterrupted(); batch; batch = await this.leaseInterrupted()) answered += await this.answer(batch);
    const taken = await inTransaction(this.dataSource, (manager) => this.takeOverDue(manager, this.settings!));
    for (const batch of taken) answered += await this.answer(batch);
    return answered;
  }

  private leaseInterrupted(): Promise<TrackedBatch | null> {
    return inTransaction(this.dataSource, (manager) => this.deadlines.leaseInterrupted(manager, this.owner, this.pollerSettings.leaseMs));
  }

  /**
   * Claims the due requests and moves those the budget admits into on-demand batches, one per model, pass,
   * prompt version and output budget. Sweeps take turns on the budget (a transaction lock): each reads the
   * reservations of the batches taken before it. A request the budget does not admit is left where it was.
   */
  private async takeOverDue(manager: EntityManager, settings: DeadlineSettings): Promise<TrackedBatch[]> {
    await this.deadlines.lockBudget(manager);
    const spend = await dailySpend(manager, new Date(), 'on_demand');
    // The budget is spent: nothing can be admitted, so nothing is claimed (a claim locks the due requests, and an
    // assembler skips locked ones).
    const spent = onDemandRefusal(spend, Number.MIN_VALUE, settings.dailyBudgetUsd);
    if (spent) {
      this.noteRefusal((await this.deadlines.anyDue(manager, settings.marginMs)) ? spent : null);
      return [];
    }
    const providers = this.answerers.all().map((a) => a.name);
    const due = await this.deadlines.claimDue(manager, settings.marginMs, CLAIM_LIMIT, {
      groq: providers.includes('groq'),
      others: providers.filter((p) => p !== 'groq'),
    });
    const groups = new Map<string, { requests: DueRequest[]; reservedUsd: number }>();
    let refusal: string | null = null;
    for (const request of due) {
      const worstCase = this.worstCaseUsd(request);
      refusal = onDemandRefusal({ settledUsd: spend.settledUsd, reservedUsd: spend.reservedUsd }, worstCase, settings.dailyBudgetUsd);
      if (refusal) break;
      spend.reservedUsd += worstCase;
      const key = JSON.stringify([request.model, request.pass, request.metadata.promptVersion, request.max_tokens]);
      const group = groups.get(key) ?? { requests: [], reservedUsd: 0 };
      group.requests.push(request);
      group.reservedUsd += worstCase;
      groups.set(key, group);
    }
    this.noteRefusal(refusal);
    const taken: TrackedBatch[] = [];
    for (const { requests, reservedUsd } of groups.values()) {
      const first = requests[0]!;
      const batchId = `od-${randomUUID()}`;
      const batch = { batchId, pass: first.pass, model: first.model, promptVersion: first.metadata.promptVersion, maxTokens: first.max_tokens, reservedUsd };
      await this.deadlines.takeOver(manager, batch, requests, this.owner, this.pollerSettings.leaseMs, this.pollerSettings.stageDeadlineMs);
      this.logger.info({ batchId, model: batch.model, requests: requests.length, reservedUsd }, 'requests past their deadline taken over for on-demand answers');
      taken.push({
        batch_id: batchId,
        batch_key: `on-demand:${batchId}`,
        provider_batch_id: null,
        input_file_id: null,
        traceparent: null,
        pass: batch.pass,
        model: batch.model,
        prompt_version: batch.promptVersion,
        max_tokens: batch.maxTokens,
        request_count: requests.length,
        poll_count: 0,
        submitted_at: new Date(),
        known_items: requests.length,
      });
    }
    return taken;
  }

  /** The most one call can cost: its body's input estimate and its whole output budget, at the on-demand price. */
  private worstCaseUsd(request: DueRequest): number {
    const row = rowOf({ batch_id: 'on-demand', pass: request.pass, model: request.model, prompt_version: request.metadata.promptVersion, max_tokens: request.max_tokens }, 1);
    const body = this.answerers.for(request.model).buildLine(request, row).body;
    return estimateLine(requestBodyChars(body), request.max_tokens, priceOf(this.context.prices, request.model)).costUsd;
  }

  private noteRefusal(refusal: string | null): void {
    if (refusal !== this.lastRefusal) {
      if (refusal) this.logger.warn({ reason: refusal }, 'on-demand budget reached: requests past their deadline wait for their batch');
      else if (this.lastRefusal) this.logger.info('on-demand budget has room again');
    }
    this.lastRefusal = refusal;
  }

  /**
   * Calls the provider for every item of an on-demand batch (ON_DEMAND_CONCURRENCY at once) under the batch's
   * lease, then records it as the poller records a finished batch. Returns how many requests it recorded.
   */
  private async answer(batch: TrackedBatch): Promise<number> {
    const log = this.logger.child({ batchId: batch.batch_id, model: batch.model });
    const heartbeat = setInterval(() => {
      this.tracking
        .renewLease(this.dataSource.manager, batch.batch_id, this.owner, this.pollerSettings.leaseMs)
        .then((held) => held || log.warn('lost the lease on the on-demand batch; another replica may take it'))
        .catch((error: unknown) => log.warn({ err: error }, 'renewing the lease failed'));
    }, Math.max(100, Math.floor(this.pollerSettings.leaseMs / 3)));
    try {
      const answerer = this.answerers.for(batch.model);
      const items = await this.deadlines.itemsOf(this.dataSource.manager, batch.batch_id);
      const row = rowOf(batch, items.length);
      const lines = await mapConcurrently(items, this.settings!.concurrency, (item) => answerer.answer(item.metadata.requestId, answerer.buildLine(item, row).body));
      // Read as the batch's results: the provider's one parser validates each answer against the schema that was sent.
      const collected = await answerer.collect(lines, batch.prompt_version);
      const toCollect: BatchToCollect = { batchId: batch.batch_id, batchKey: batch.batch_key, pass: batch.pass, model: batch.model, promptVersion: batch.prompt_version, maxTokens: batch.max_tokens };
      const sent = items.map((item) => item.metadata);
      const answered = [...collected.outcomes.values()].filter((o) => o.kind === 'succeeded').length;
      const state: ProviderBatchState = {
        providerBatchId: ON_DEMAND_PROVIDER_BATCH_ID,
        status: 'completed',
        outputFileId: null,
        errorFileId: null,
        counts: { total: sent.length, completed: answered, failed: sent.length - answered },
        errors: null,
      };
      const estimator = new StoredRequestPromptEstimator(this.dataSource, this.tracking, answerer.buildLine);
      const outcome = await batchOutcomeOf(collected, state, toCollect, sent, this.context.prices, estimator);
      const recorded = await this.poller.settle(batch, state, outcome, log, this.owner);
      return recorded ? sent.length : 0;
    } catch (error) {
      // The batch keeps its lease until it runs out; then a sweep (this one or another replica's) calls again.
      log.warn({ err: error }, 'answering the on-demand batch failed; it will be tried again once its lease runs out');
      return 0;
    } finally {
      clearInterval(heartbeat);
    }
  }
}

/**
 * The batch key the line builders are given: they name each line after its batch's key (Anthropic's custom ids
 * carry its tag), which an on-demand answer does not use — it is read back by request id — so a placeholder of
 * the keys' form does.
 */
const LINE_BUILDER_KEY = `cascade-${'0'.repeat(40)}`;

/** The batch as the line builders see it. */
function rowOf(batch: Pick<TrackedBatch, 'batch_id' | 'pass' | 'model' | 'prompt_version' | 'max_tokens'>, requestCount: number): BatchRow {
  return {
    batch_id: batch.batch_id,
    batch_key: LINE_BUILDER_KEY,
    pass: batch.pass,
    model: batch.model,
    prompt_version: batch.prompt_version,
    max_tokens: batch.max_tokens,
    request_count: requestCount,
  };
}

/** `task` over `items`, at most `limit` at once, results in the items' order. */
async function mapConcurrently<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await task(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
