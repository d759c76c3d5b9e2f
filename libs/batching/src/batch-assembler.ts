import { randomUUID } from 'node:crypto';
import { chunkBySize, createEvent, MAX_EVENT_BYTES, type RequestMetadata, Topic } from '#contracts';
import { crashPoint, inTransaction, type OutboxRelay, type OutboxRepository, readControl, setHold, clearHold } from '#platform';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { batchKeyOf } from './batch-key.js';
import { BatchRepository, type BatchRow, metadataOf, type PendingGroup } from './batch.repository.js';
import type { BatchInputLine, BatchProviderPort } from './provider-port.js';
import { type Admission, type LineEstimate, requestBodyChars } from './quota/quota-gate.js';

export interface AssemblerSettings {
  /** Which passes this service submits: the batch-submitter takes pass 1, the retry-service the rest. */
  minPass: number;
  maxPass: number;
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
}

/** Turns a stored PR (the guarded prompt input) into the provider's request body. */
export type LineBuilder = (item: { metadata: RequestMetadata; pr: Record<string, unknown> }, batch: BatchRow) => BatchInputLine;

/** Checked before each new batch: quotas and budgets may split a batch or hold submission back. */
export interface SubmissionQuota {
  admit(model: string, lines: readonly LineEstimate[]): Promise<Admission>;
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
  private readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private submittedRequests = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly dataSource: DataSource,
    private readonly provider: BatchProviderPort,
    private readonly buildLine: LineBuilder,
    private readonly outbox: OutboxRepository,
    private readonly relay: OutboxRelay,
    private readonly logger: Logger,
    private readonly settings: AssemblerSettings,
    private readonly quota: SubmissionQuota | null = null,
  ) {}

  /** The hold last written by this process, so an unchanged hold is not rewritten every tick. */
  private heldFor: string | null = null;

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.warn({ err: error }, 'batch assembly pass failed; will retry'))
        .finally(() => {
          this.running = null;
          this.schedule(this.settings.intervalMs);
        });
    }, delayMs);
  }

  /** One pass: resume interrupted submissions, then form and submit every batch that is due. */
  async tick(options: { force?: boolean } = {}): Promise<number> {
    let submitted = 0;
    const interrupted = await inTransaction(this.dataSource, (m) =>
      this.repository.leaseInterrupted(m, this.settings.minPass, this.settings.maxPass, this.owner, this.settings.leaseMs),
    );
    for (const batch of interrupted) {
      this.logger.warn({ batchId: batch.batch_id, batchKey: batch.batch_key }, 'resuming an interrupted submission');
      if (await this.submit(batch, true)) submitted++;
    }
    // An operator's pause stops new batches; the interrupted submissions above still finish.
    if ((await readControl(this.dataSource.manager, 'submission.pause')).paused) return submitted;
    const groups = await this.repository.pendingGroups(this.dataSource.manager, this.settings.minPass, this.settings.maxPass);
    // Submission is mostly waiting (provider upload and create): several run at once, each batch still formed in order.
    const inFlight = new Set<Promise<void>>();
    const startSubmit = async (batch: BatchRow) => {
      const submission: Promise<void> = this.submit(batch, false).then((ok) => {
        if (ok) submitted++;
        inFlight.delete(submission);
      });
      inFlight.add(submission);
      if (inFlight.size >= (this.settings.submitConcurrency ?? 1)) await Promise.race(inFlight);
    };
    try {
      groups: for (const group of groups) {
        let waiting = group.waiting;
        while (waiting > 0 && (options.force || waiting >= this.settings.maxLines || group.oldest_age_ms >= this.settings.lingerMs)) {
          if (this.remainingAllowance() === 0) break groups;
          const batch = await this.formBatch(group);
          if (!batch) break;
          waiting -= batch.request_count;
          await startSubmit(batch);
          if (this.stopped) break groups;
        }
      }
    } finally {
      await Promise.all(inFlight);
    }
    return submitted;
  }

  private remainingAllowance(): number {
    return this.settings.submitLimit === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, this.settings.submitLimit - this.submittedRequests);
  }

  private async formBatch(group: PendingGroup): Promise<BatchRow | null> {
    let admitted: LineEstimate[] = [];
    const batch = await inTransaction(this.dataSource, async (manager) => {
      const candidates = await this.repository.claimPending(manager, group, Math.min(this.settings.maxLines, this.remainingAllowance()));
      let chosen = [];
      let bytes = 0;
      for (const candidate of candidates) {
        // Prompt and schema add a few KB per line on top of the stored PR text.
        const lineBytes = Number(candidate.bytes) + 4_096;
        if (chosen.length > 0 && bytes + lineBytes > this.settings.maxBytes) break;
        chosen.push(candidate);
        bytes += lineBytes;
      }
      if (chosen.length === 0) return null;
      const draft: BatchRow = {
        batch_id: randomUUID(),
        batch_key: '',
        pass: group.pass,
        model: group.model,
        prompt_version: group.prompt_version,
        max_tokens: group.max_tokens,
        request_count: 0,
      };
      if (this.quota) {
        const estimates = chosen.map((c) =>
          this.quota!.estimate(group.model, requestBodyChars(this.buildLine({ metadata: metadataOf(c), pr: c.pr }, draft).body), group.max_tokens),
        );
        const admission = await this.quota.admit(group.model, estimates);
        if (admission.admitted === 0) {
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
      const batch: BatchRow = { ...draft, batch_key: batchKeyOf(group.pass, group.model, group.prompt_version, items), request_count: items.length };
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

  /** Records why submission waits, for `cascade status` and the ops API; logged once per distinct reason. */
  private async hold(manager: EntityManager, model: string, limit: NonNullable<Admission['limit']>): Promise<void> {
    const key = `${limit.kind}|${model}`;
    if (this.heldFor === key) return;
    await setHold(manager, { kind: limit.kind, model, reason: limit.reason, since: new Date().toISOString() });
    this.heldFor = key;
    this.logger.warn({ model, kind: limit.kind }, `submission held: ${limit.reason}`);
  }

  /**
   * Submits one batch while renewing its lease every third of SUBMIT_LEASE_MS, so a slow upload or create
   * is never taken over by another replica (which would find nothing by key yet and create again).
   */
  private async submit(batch: BatchRow, resumed: boolean): Promise<boolean> {
    const log = this.logger.child({ batchId: batch.batch_id, batchKey: batch.batch_key, pass: batch.pass, model: batch.model });
    const heartbeat = setInterval(() => {
      this.repository
        .renewSubmitLease(this.dataSource.manager, batch.batch_id, this.owner, this.settings.leaseMs)
        .then((held) => held || log.warn('lost the submission lease; another replica may resume the batch'))
        .catch((error: unknown) => log.warn({ err: error }, 'renewing the submission lease failed'));
    }, Math.max(100, Math.floor(this.settings.leaseMs / 3)));
    try {
      return await this.submitHeld(batch, resumed, log);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async submitHeld(batch: BatchRow, resumed: boolean, log: Logger): Promise<boolean> {
    try {
      const items = await this.repository.itemsOf(this.dataSource.manager, batch.batch_id);
      const adopted = resumed ? await this.provider.findByKey(batch.batch_key) : null;
      const created =
        adopted ??
        (await this.provider.submit({
          batchKey: batch.batch_key,
          // Built one at a time as the JSONL file is written: a batch's request bodies are never all in memory.
          lines: (function* (build: LineBuilder) {
            for (const item of items) yield build(item, batch);
          })(this.buildLine),
          metadata: {
            cascade_batch_key: batch.batch_key,
            cascade_batch_id: batch.batch_id,
            pass: String(batch.pass),
            prompt_version: batch.prompt_version,
          },
        }));
      crashPoint('submit:after-provider-create');
      if (adopted) log.warn({ providerBatchId: adopted.providerBatchId }, 'adopted the provider batch created before the interruption');
      const recorded = await inTransaction(this.dataSource, async (manager) => {
        const first = await this.repository.recordSubmitted(
          manager,
          batch.batch_id,
          created.providerBatchId,
          created.inputFileId,
          this.settings.stageDeadlineMs,
        );
        if (!first) return false;
        await this.publishSubmitted(manager, batch, created.providerBatchId, created.inputFileId, items.map((i) => i.metadata));
        return true;
      });
      if (recorded) {
        this.relay.kick();
        log.info({ providerBatchId: created.providerBatchId, requests: items.length }, 'batch submitted');
      } else {
        await this.dropDuplicate(batch, created.providerBatchId, log);
      }
      return recorded;
    } catch (error) {
      log.warn({ err: error }, 'batch submission failed; it stays recorded and is resumed');
      await this.repository
        .recordSubmitError(this.dataSource.manager, batch.batch_id, (error as Error).message, Math.min(5_000, this.settings.leaseMs))
        .catch(() => undefined);
      return false;
    }
  }

  /**
   * Another replica recorded this batch first. If it recorded another provider batch than ours (it took over
   * while we were creating), ours would be paid for and never polled: cancel it, and say so.
   */
  private async dropDuplicate(batch: BatchRow, ours: string, log: Logger): Promise<void> {
    const recorded = await this.repository.providerBatchOf(this.dataSource.manager, batch.batch_id);
    if (recorded === ours) return;
    try {
      await this.provider.cancel(ours);
      log.warn({ providerBatchId: ours, recordedProviderBatchId: recorded }, 'cancelled a duplicate provider batch: another replica recorded its own for this key');
    } catch (error) {
      log.error({ err: error, providerBatchId: ours, recordedProviderBatchId: recorded }, 'could not cancel a duplicate provider batch; cancel it at the provider');
    }
  }

  private async publishSubmitted(
    manager: EntityManager,
    batch: BatchRow,
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
            provider: 'groq',
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
