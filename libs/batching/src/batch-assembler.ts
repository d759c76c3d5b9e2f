import { randomUUID } from 'node:crypto';
import { chunkBySize, createEvent, MAX_EVENT_BYTES, type RequestMetadata, Topic } from '#contracts';
import { adoptableBatch, GroqBatchError, TERMINAL_BATCH_STATUSES } from '#groq-batch';
import {
  activeTraceparent,
  clearHold,
  crashPoint,
  inTransaction,
  type OutboxRelay,
  type OutboxRepository,
  PeriodicTask,
  readControl,
  ServiceTracer,
  setHold,
  TraceAttribute,
} from '#platform';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { batchKeyOf, DRAFT_BATCH_KEY } from './batch-key.js';
import { type BatchItem, BatchRepository, type BatchRow, type ClaimedRequest, type LeasedBatch, metadataOf, type PendingGroup, type SubmitLease } from './batch.repository.js';
import type { BatchInputLine, ProviderBatchRef } from './provider-port.js';
import type { BatchLimits, BatchProvider, ProviderSet } from './providers/provider-set.js';
import { finishedAs, StrayBatches } from './stray-batches.js';
import { sweepProvider } from './provider-sweep.js';
import { DEFAULT_SUBMIT_RETRY, nextSubmitAttempt, type SubmitRetryPolicy } from './submit-retry.js';
import { type Admission, type LineEstimate, requestBodyChars } from './quota/quota-gate.js';

export interface AssemblerSettings {
  /** Which passes this service submits: the batch-submitter takes pass 1, the retry-service the rest. */
  minPass: number;
  maxPass: number;
  /** BATCH_MAX_LINES and BATCH_MAX_BYTES: each provider's own ceiling may lower them further. */
  maxLines: number;
  maxBytes: number;
  lingerMs: number;
  intervalMs: number;
  /** How long a submitted request may stay in flight before `reconcile` calls it stuck. */
  stageDeadlineMs: number;
  leaseMs: number;
  producer: string;
  /** At most this many requests submitted by this process (the operators' `run --limit N`). */
  submitLimit?: number;
  /** Batches uploaded and created at the same time (default 1): formation of the next batch overlaps the upload of the last. */
  submitConcurrency?: number;
  /** Backoff and cap of failed submissions (default: 5 s doubling to 5 min, held after 8). */
  submitRetry?: SubmitRetryPolicy;
  /** How often this assembler runs the provider sweep over the last two days of provider batches (unset: never). */
  providerSweepMs?: number;
  /**
   * QUOTA_FALLBACK=next-model: MODEL_CHAIN, along which requests a quota or budget holds move to the next model
   * that has room, instead of waiting (unset: they wait).
   */
  fallbackChain?: readonly string[];
}

/** The provider sweep run by a service looks this far back (a batch's 24 h window, and a margin). */
const SWEEP_WINDOW_MS = 48 * 60 * 60 * 1000;

/** Turns a stored PR (the guarded prompt input) into the provider's request body. */
export type LineBuilder = (item: BatchItem, batch: BatchRow) => BatchInputLine;

/** A PR with no text: its request body is the part of every line's body that does not come from the PR. */
const EMPTY_PR = { title: '', body: '', author: '', labels: [], additions: 0, deletions: 0, changedFiles: 0, reviews: [] };

/**
 * Each claimed line's request body size, for the quota's input estimate, without reading or rendering its PR: the
 * body of an empty PR from an empty repository for this batch (model, prompt, output budget), plus the line's
 * repository name (in the prompt, not in the stored PR) and the stored PR's size (`pr_bytes`, its JSON text: a
 * little more than what the prompt renders from it, so the estimate errs high). The body itself is built once,
 * when the batch file is written.
 */
export function estimatedBodyChars(buildLine: LineBuilder, batch: BatchRow, claimed: readonly ClaimedRequest[]): number[] {
  if (claimed.length === 0) return [];
  const base = requestBodyChars(buildLine({ metadata: { ...metadataOf(claimed[0]!), repo: '' }, pr: EMPTY_PR }, batch).body);
  // The name as the body's JSON escapes it, without the two quotes of a string of its own.
  return claimed.map((request) => base + requestBodyChars(request.repo) - 2 + Number(request.bytes));
}

/** Checked before each new batch: quotas and budgets may split a batch or hold submission back. */
export interface SubmissionQuota {
  /** `manager`: the transaction that forms the batch (today's spend is read in it). */
  admit(model: string, lines: readonly LineEstimate[], manager: EntityManager): Promise<Admission>;
  record(model: string, lines: readonly LineEstimate[]): Promise<void>;
  estimate(model: string, requestBodyChars: number, maxTokens: number): LineEstimate;
}

/**
 * Accumulates pending requests into provider batches (N lines or linger time), recording the intent
 * with a deterministic key before calling the provider and publishing `BatchSubmitted` through the
 * outbox in the same transaction that marks the batch submitted. An interrupted submission is
 * resumed by looking the key up at the provider first, so a crash never pays for a batch twice.
 */
export class BatchAssembler {
  private readonly repository = new BatchRepository();
  private readonly strays = new StrayBatches();
  private readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private submittedRequests = 0;
  private readonly loop: PeriodicTask;
  private readonly tracer: ServiceTracer;

  constructor(
    private readonly dataSource: DataSource,
    private readonly providers: ProviderSet,
    private readonly outbox: OutboxRepository,
    private readonly relay: OutboxRelay,
    private readonly logger: Logger,
    private readonly settings: AssemblerSettings,
    private readonly quota: SubmissionQuota | null = null,
  ) {
    this.loop = new PeriodicTask(() => this.tick(), logger, { intervalMs: settings.intervalMs, failureMessage: 'batch assembly pass failed; will retry' });
    this.tracer = new ServiceTracer(settings.producer);
  }

  /** The hold last written by this process, so an unchanged hold is not rewritten every tick. */
  private heldFor: string | null = null;

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.sweeping;
  }

  /** One pass: resume interrupted submissions, then form and submit every batch that is due. */
  async tick(options: { force?: boolean } = {}): Promise<number> {
    let submitted = 0;
    this.maybeSweep();
    const paused = (await readControl(this.dataSource.manager, 'submission.pause')).paused;
    // One at a time: a lease is only renewed while its batch is being worked on.
    for (let resumed = 0; resumed < 5; resumed++) {
      const [batch] = await inTransaction(this.dataSource, (m) =>
        this.repository.leaseInterrupted(m, this.settings.minPass, this.settings.maxPass, this.owner, this.settings.leaseMs),
      );
      if (!batch) break;
      this.logger.warn({ batchId: batch.batch_id, batchKey: batch.batch_key, attempts: batch.submit_attempts, held: batch.held_reason !== null }, 'resuming an interrupted submission');
      // Paused by an operator, or held: a batch already made at the provider is adopted, nothing new is paid for.
      if (await this.submit(batch, true, paused || batch.held_reason !== null)) submitted++;
    }
    if (paused) return submitted;
    const groups = await this.repository.pendingGroups(this.dataSource.manager, this.settings.minPass, this.settings.maxPass);
    // Submission is mostly waiting (provider upload and create): several run at once, each batch still formed in order.
    const inFlight = new Set<Promise<void>>();
    const startSubmit = async (batch: BatchRow) => {
      const submission: Promise<void> = this.submit({ ...batch, intent_at: Math.floor(Date.now() / 1000), lease_epoch: 1, submit_attempts: 0, input_file_id: null, held_reason: null }, false, false).then((ok) => {
        if (ok) submitted++;
        inFlight.delete(submission);
      });
      inFlight.add(submission);
      if (inFlight.size >= (this.settings.submitConcurrency ?? 1)) await Promise.race(inFlight);
    };
    try {
      groups: for (const group of groups) {
        let waiting = group.waiting;
        const limits = this.limitsOf(group.model);
        while (waiting > 0 && (options.force || waiting >= limits.maxLines || group.oldest_age_ms >= this.settings.lingerMs)) {
          if (this.remainingAllowance() === 0) break groups;
          const batch = await this.formBatch(group, limits);
          if (!batch) break;
          waiting -= batch.request_count;
          await startSubmit(batch);
          if (this.loop.stopped) break groups;
        }
      }
    } finally {
      await Promise.all(inFlight);
    }
    return submitted;
  }

  /** The configured batch limits, lowered to the provider's own where it allows less. */
  private limitsOf(model: string): BatchLimits {
    const provider = this.providers.for(model).limits;
    return { maxLines: Math.min(provider.maxLines, this.settings.maxLines), maxBytes: Math.min(provider.maxBytes, this.settings.maxBytes) };
  }

  private remainingAllowance(): number {
    return this.settings.submitLimit === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, this.settings.submitLimit - this.submittedRequests);
  }

  private async formBatch(group: PendingGroup, limits: BatchLimits): Promise<BatchRow | null> {
    let admitted: LineEstimate[] = [];
    const { buildLine } = this.providers.for(group.model);
    const batch = await inTransaction(this.dataSource, async (manager) => {
      const candidates = await this.repository.claimPending(manager, group, Math.min(limits.maxLines, this.remainingAllowance()));
      let chosen = [];
      let bytes = 0;
      for (const candidate of candidates) {
        // Prompt and schema add a few KB per line on top of the stored PR text.
        const lineBytes = Number(candidate.bytes) + 4_096;
        if (chosen.length > 0 && bytes + lineBytes > limits.maxBytes) break;
        chosen.push(candidate);
        bytes += lineBytes;
      }
      if (chosen.length === 0) return null;
      const draft: BatchRow = {
        batch_id: randomUUID(),
        batch_key: DRAFT_BATCH_KEY,
        pass: group.pass,
        model: group.model,
        prompt_version: group.prompt_version,
        max_tokens: group.max_tokens,
        request_count: 0,
      };
      if (this.quota) {
        const bodyChars = estimatedBodyChars(buildLine, draft, chosen);
        const estimates = bodyChars.map((chars) => this.quota!.estimate(group.model, chars, group.max_tokens));
        const admission = await this.quota.admit(group.model, estimates, manager);
        if (admission.admitted === 0) {
          if (await this.fallBack(manager, group, chosen, bodyChars, admission.limit!)) return null;
          await this.hold(manager, group.model, admission.limit!);
          return null;
        }
        if (admission.admitted < chosen.length) {
          this.logger.info({ model: group.model, admitted: admission.admitted, of: chosen.length, reason: admission.limit?.reason }, 'batch split by a quota');
        }
        chosen = chosen.slice(0, admission.admitted);
        admitted = estimates.slice(0, admission.admitted);
      }
      const items = chosen.map(metadataOf);
      const batch: BatchRow = {
        ...draft,
        batch_key: batchKeyOf(group.pass, group.model, group.prompt_version, items),
        request_count: items.length,
        // The most its lines can cost, counted against the spend budget until the batch finishes and settles.
        reserved_usd: this.quota ? admitted.reduce((sum, line) => sum + line.costUsd, 0) : null,
      };
      await this.repository.recordIntent(manager, batch, items, this.owner, this.settings.leaseMs);
      if (await clearHold(manager, group.model)) this.logger.info({ model: group.model }, 'submission hold released');
      this.heldFor = null;
      this.submittedRequests += items.length;
      return batch;
    });
    // Counted once the intent is committed: from here on the batch will be sent (or adopted) exactly once.
    if (batch && this.quota) await this.quota.record(group.model, admitted);
    return batch;
  }

  /**
   * QUOTA_FALLBACK=next-model: the requests a quota or budget holds on `group.model` move to the next model of
   * the chain that would admit them now (the same pass: they have not been sent), each move recorded with the
   * limit that caused it. Those the next model admits move; the rest wait for the next formation. False when
   * fallback is off, the model is the chain's last, or no later model has room (then the batch is held).
   */
  private async fallBack(
    manager: EntityManager,
    group: PendingGroup,
    chosen: readonly ClaimedRequest[],
    bodyChars: readonly number[],
    limit: NonNullable<Admission['limit']>,
  ): Promise<boolean> {
    const chain = this.settings.fallbackChain;
    const at = chain?.indexOf(group.model) ?? -1;
    if (!chain || at < 0 || !this.quota) return false;
    for (const next of chain.slice(at + 1)) {
      const admission = await this.quota.admit(next, bodyChars.map((chars) => this.quota!.estimate(next, chars, group.max_tokens)), manager);
      if (admission.admitted === 0) continue;
      const moved = chosen.slice(0, admission.admitted);
      await this.repository.moveToModel(manager, group, moved, next, { kind: limit.kind, reason: limit.reason });
      this.logger.warn({ model: group.model, to: next, requests: moved.length, kind: limit.kind }, `quota fallback: ${limit.reason}; ${moved.length} request(s) moved to ${next}`);
      return true;
    }
    return false;
  }

  /** Records why submission waits, for `cascade status` and the ops API; logged once per distinct reason. */
  private async hold(manager: EntityManager, model: string, limit: NonNullable<Admission['limit']>): Promise<void> {
    const key = `${limit.kind}|${model}`;
    if (this.heldFor === key) return;
    await setHold(manager, { kind: limit.kind, model, reason: limit.reason, since: new Date().toISOString() });
    this.heldFor = key;
    this.logger.warn({ model, kind: limit.kind }, `submission held: ${limit.reason}`);
  }

  /**
   * Submits one batch in a span of its own: a provider batch carries many requests, so it is a trace of its
   * own, linked to theirs (see `record`), and its traceparent is kept with the batch for the poller.
   */
  private async submit(batch: LeasedBatch, resumed: boolean, adoptOnly: boolean): Promise<boolean> {
    const attributes = {
      [TraceAttribute.batchId]: batch.batch_id,
      [TraceAttribute.pass]: batch.pass,
      [TraceAttribute.model]: batch.model,
      [TraceAttribute.requests]: batch.request_count,
      'cascade.resumed': resumed,
    };
    return this.tracer.inSpan('batch submit', { parent: ROOT_CONTEXT, attributes }, async (span) => {
      const recorded = await this.submitLeased(batch, resumed, adoptOnly);
      span?.setAttribute('cascade.recorded', recorded);
      return recorded;
    });
  }

  /**
   * Submits one batch while renewing its lease every third of SUBMIT_LEASE_MS, so a slow upload or create
   * is never taken over by another replica (which would find nothing by key yet and create again).
   */
  private async submitLeased(batch: LeasedBatch, resumed: boolean, adoptOnly: boolean): Promise<boolean> {
    const log = this.logger.child({ batchId: batch.batch_id, batchKey: batch.batch_key, pass: batch.pass, model: batch.model });
    const lease: SubmitLease = { owner: this.owner, epoch: batch.lease_epoch };
    const heartbeat = setInterval(() => {
      this.repository
        .renewSubmitLease(this.dataSource.manager, batch.batch_id, lease, this.settings.leaseMs)
        .then((held) => held || log.warn('lost the submission lease; another replica may resume the batch'))
        .catch((error: unknown) => log.warn({ err: error }, 'renewing the submission lease failed'));
    }, Math.max(100, Math.floor(this.settings.leaseMs / 3)));
    try {
      return await this.submitHeld(batch, lease, resumed, adoptOnly, log);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async submitHeld(batch: LeasedBatch, lease: SubmitLease, resumed: boolean, adoptOnly: boolean, log: Logger): Promise<boolean> {
    let reusedFile = false;
    const provider = this.providers.for(batch.model);
    try {
      // A resumed batch may exist already: handed over by a replica that lost its lease, or created before a crash.
      const existing = resumed ? await this.existingFor(batch, provider) : [];
      let chosen = adoptableBatch(existing);
      if (chosen) {
        log.warn({ providerBatchId: chosen.providerBatchId, found: existing.length }, 'adopted the provider batch created before the interruption');
      } else if (adoptOnly) {
        await this.repository.releaseSubmitLease(this.dataSource.manager, batch.batch_id, lease, this.settings.leaseMs);
        // Handed-over batches that will never run are done with: a held batch is not leased for them again.
        for (const ref of existing.filter((r) => TERMINAL_BATCH_STATUSES.has(r.status) || r.status === 'cancelling')) {
          await this.strays.settle(this.dataSource.manager, ref.providerBatchId, finishedAs(ref.status), ref.status, 'found dead when its batch resumed');
        }
        return false;
      } else {
        // Fenced before paying: a replica whose lease was taken over creates nothing.
        if (!(await this.repository.holdsSubmitLease(this.dataSource.manager, batch.batch_id, lease))) {
          log.warn('lost the submission lease before creating; the batch is left to its new holder');
          return false;
        }
        reusedFile = batch.input_file_id !== null;
        const inputFileId = batch.input_file_id ?? (await this.uploadFor(batch, provider, lease, log));
        if (!inputFileId) return false;
        chosen = await provider.port.create({
          batchKey: batch.batch_key,
          inputFileId,
          // Asked before any create after an unanswered one: a submitter whose lease was taken meanwhile stops.
          mayCreate: () => this.repository.holdsSubmitLease(this.dataSource.manager, batch.batch_id, lease),
          metadata: {
            cascade_batch_key: batch.batch_key,
            cascade_batch_id: batch.batch_id,
            pass: String(batch.pass),
            prompt_version: batch.prompt_version,
          },
        });
      }
      crashPoint('submit:after-provider-create', provider.name);
      return await this.record(batch, provider, lease, chosen, existing, await this.repository.metadataOf(this.dataSource.manager, batch.batch_id), log);
    } catch (error) {
      if (!(await this.repository.holdsSubmitLease(this.dataSource.manager, batch.batch_id, lease).catch(() => true))) {
        log.warn({ err: error }, 'submission stopped: the lease was taken over; the batch is left to its new holder');
        return false;
      }
      const attempt = batch.submit_attempts + 1;
      const missingFile = reusedFile && error instanceof GroqBatchError && error.status === 404;
      const next = missingFile ? { retryInMs: 0 } : nextSubmitAttempt(error, attempt, this.settings.submitRetry ?? DEFAULT_SUBMIT_RETRY);
      const message = (error as Error).message;
      if (missingFile) await this.repository.recordInputFile(this.dataSource.manager, batch.batch_id, lease, null).catch(() => undefined);
      if ('heldReason' in next) log.error({ err: error, attempt }, `batch submission held: ${next.heldReason}`);
      else log.warn({ err: error, attempt, retryInMs: next.retryInMs }, 'batch submission failed; it stays recorded and is tried again');
      await this.repository.recordSubmitError(this.dataSource.manager, batch.batch_id, lease, { message, ...next }).catch(() => undefined);
      return false;
    }
  }

  /** Uploads the input file and keeps its id with the batch; null when the lease was lost meanwhile (the file is deleted). */
  private async uploadFor(batch: LeasedBatch, provider: BatchProvider, lease: SubmitLease, log: Logger): Promise<string | null> {
    const fileId = await provider.port.upload({
      batchKey: batch.batch_key,
      // Read a page of PRs at a time and built one line at a time as the JSONL file is written: neither a
      // batch's PRs nor its request bodies are ever all in memory.
      lines: (async function* (items: AsyncIterable<BatchItem>, build: LineBuilder) {
        for await (const item of items) yield build(item, batch);
      })(this.repository.itemsOf(this.dataSource.manager, batch.batch_id), provider.buildLine),
    });
    if (await this.repository.recordInputFile(this.dataSource.manager, batch.batch_id, lease, fileId)) return fileId;
    log.warn({ inputFileId: fileId }, 'lost the submission lease during the upload; the file is deleted and the batch left to its new holder');
    await provider.port.deleteFile(fileId).catch((error: unknown) => log.warn({ err: error, inputFileId: fileId }, 'could not delete the unused input file; the provider sweep will'));
    return null;
  }

  /** Provider batches already made for this batch: handed over in the database, or found at the provider by key. */
  private async existingFor(batch: LeasedBatch, provider: BatchProvider): Promise<ProviderBatchRef[]> {
    const handed = await this.strays.handedOver(this.dataSource.manager, batch.batch_id);
    const found = await provider.port.findByKey(batch.batch_key, { sinceSeconds: batch.intent_at, lines: batch.request_count });
    const byId = new Map([...handed, ...found].map((ref) => [ref.providerBatchId, ref]));
    // The provider's view of status wins over what was noted when the batch was handed over.
    for (const ref of found) byId.set(ref.providerBatchId, ref);
    return [...byId.values()];
  }

  /**
   * Records `chosen` as the batch's provider batch if this replica still holds the lease under its epoch
   * (checked under the row lock): every other provider batch for the key is then cancelled. A replica that
   * lost its lease hands `chosen` over to the holder instead; one that finds the batch recorded by another
   * cancels its own.
   */
  private async record(
    batch: BatchRow,
    provider: BatchProvider,
    lease: SubmitLease,
    chosen: ProviderBatchRef,
    existing: ProviderBatchRef[],
    requests: RequestMetadata[],
    log: Logger,
  ): Promise<boolean> {
    const toCancel: ProviderBatchRef[] = [];
    const outcome = await inTransaction(this.dataSource, async (m) => {
      const stray = (ref: ProviderBatchRef, disposition: 'handed_over' | 'cancelling', note: string) =>
        this.strays.add(m, { ...ref, batchKey: batch.batch_key, batchId: batch.batch_id, disposition, foundBy: existing.includes(ref) ? 'key_lookup' : 'create', note });
      const row = await this.repository.lockForRecord(m, batch.batch_id);
      if (row.state === 'creating' && row.lease_owner === lease.owner && row.lease_epoch === lease.epoch) {
        const handed = await this.strays.handedOver(m, batch.batch_id);
        trace.getActiveSpan()?.addLinks(ServiceTracer.requestLinks(requests));
        await this.repository.recordSubmitted(
          m,
          batch,
          requests.map((r) => r.requestId),
          chosen.providerBatchId,
          chosen.inputFileId,
          this.settings.stageDeadlineMs,
          activeTraceparent(),
        );
        await this.strays.remove(m, chosen.providerBatchId);
        const others = new Map([...existing, ...handed].filter((r) => r.providerBatchId !== chosen.providerBatchId).map((r) => [r.providerBatchId, r]));
        for (const other of others.values()) {
          await stray(other, 'cancelling', `another provider batch (${chosen.providerBatchId}) was recorded for the key`);
          toCancel.push(other);
        }
        await this.publishSubmitted(m, batch, provider, chosen.providerBatchId, chosen.inputFileId, requests);
        return 'recorded' as const;
      }
      if (row.state === 'creating') {
        await stray(chosen, 'handed_over', 'created by a submitter whose lease was taken over');
        return 'handed_over' as const;
      }
      if (row.provider_batch_id === chosen.providerBatchId) return 'already' as const;
      await stray(chosen, 'cancelling', `batch recorded with ${row.provider_batch_id} by another replica`);
      toCancel.push(chosen);
      return 'duplicate' as const;
    });
    if (outcome === 'recorded') {
      this.relay.kick();
      log.info({ providerBatchId: chosen.providerBatchId, requests: requests.length }, 'batch submitted');
    } else if (outcome === 'handed_over') {
      log.warn({ providerBatchId: chosen.providerBatchId }, 'lost the submission lease after creating: the provider batch is handed over to the new holder');
    }
    for (const ref of toCancel) await this.cancelStray(provider, ref, log);
    return outcome === 'recorded';
  }

  /** Cancels a provider batch we will not use, and keeps what the provider answered (a failed cancel is retried by the sweep). */
  private async cancelStray(provider: BatchProvider, ref: ProviderBatchRef, log: Logger): Promise<void> {
    await this.cancelStrayOnce(provider, ref, log).catch((error: unknown) =>
      log.error({ err: error, providerBatchId: ref.providerBatchId }, 'could not settle a duplicate provider batch; `cascade reconcile --provider` tries again'),
    );
  }

  private async cancelStrayOnce(provider: BatchProvider, ref: ProviderBatchRef, log: Logger): Promise<void> {
    if (TERMINAL_BATCH_STATUSES.has(ref.status)) {
      await this.strays.settle(this.dataSource.manager, ref.providerBatchId, finishedAs(ref.status), ref.status, 'already over when found');
      return;
    }
    try {
      const status = await provider.port.cancel(ref.providerBatchId);
      await this.strays.settle(this.dataSource.manager, ref.providerBatchId, 'cancelled', status, null);
      log.warn({ providerBatchId: ref.providerBatchId, status }, 'cancelled a duplicate provider batch for this key');
    } catch (error) {
      await this.strays.settle(this.dataSource.manager, ref.providerBatchId, 'cancel_failed', null, (error as Error).message).catch(() => undefined);
      log.error({ err: error, providerBatchId: ref.providerBatchId }, 'could not cancel a duplicate provider batch; `cascade reconcile --provider` tries again');
    }
  }

  private sweeping: Promise<void> | null = null;
  private lastSweep = 0;

  /** Starts the provider sweep in the background when it is due; a service catches what no operator swept. */
  private maybeSweep(): void {
    const every = this.settings.providerSweepMs;
    if (!every || this.sweeping || Date.now() - this.lastSweep < every) return;
    this.lastSweep = Date.now();
    const sinceSeconds = Math.floor((Date.now() - SWEEP_WINDOW_MS) / 1000);
    this.sweeping = (async () => {
      for (const provider of this.providers.all()) {
        const report = await sweepProvider(this.dataSource, provider, { sinceSeconds });
        if (report.unknown.length + report.cancelsRetried.length + report.filesDeleted.length === 0) continue;
        this.logger.warn(
          {
            provider: provider.name,
            unknown: report.unknown.map((b) => ({ providerBatchId: b.providerBatchId, batchId: b.batchId, status: b.status, action: b.action })),
            cancelsRetried: report.cancelsRetried.length,
            filesDeleted: report.filesDeleted.length,
          },
          'provider sweep: provider batches the database did not know were handed over or cancelled',
        );
      }
    })()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'provider sweep failed; it runs again later'))
      .finally(() => (this.sweeping = null));
  }

  private async publishSubmitted(
    manager: EntityManager,
    batch: BatchRow,
    provider: BatchProvider,
    providerBatchId: string,
    inputFileId: string,
    requests: RequestMetadata[],
  ): Promise<void> {
    const parts = chunkBySize(requests, MAX_EVENT_BYTES);
    const submittedAt = new Date().toISOString();
    for (const [index, chunk] of parts.entries()) {
      await this.outbox.enqueue(
        manager,
        Topic.BatchSubmitted,
        createEvent(
          Topic.BatchSubmitted,
          {
            batchId: batch.batch_id,
            batchKey: batch.batch_key,
            provider: provider.name,
            providerBatchId,
            inputFileId,
            pass: batch.pass,
            model: batch.model,
            promptVersion: batch.prompt_version,
            maxTokens: batch.max_tokens,
            submittedAt,
            requestCount: requests.length,
            part: index + 1,
            parts: parts.length,
            requests: chunk,
          },
          { correlationId: `batch:${batch.batch_id}`, producer: this.settings.producer },
        ),
      );
    }
  }
}
