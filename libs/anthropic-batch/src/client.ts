import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { ANTHROPIC_SDK_ERRORS, backoffDelayMs, GroqBatchConfigError, postStreamed, type GroqBatchSubject, type RetryEvent, retryAfterMs, retryVerdict, sleep, watchedLines, withRetries } from '#groq-batch';
import { type AnthropicBatchConfig, checkAnthropicBaseUrl } from './config.js';
import { batchKeyTag, batchKeyTagOf } from './custom-id.js';
import { AnthropicBatchError, CreateInDoubtError, inGroqShape } from './errors.js';
import { type AnthropicBatchRequest, writeRequestsBody } from './request-body.js';

export type ProcessingStatus = 'in_progress' | 'canceling' | 'ended';

export interface RequestCounts {
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

/** A Message Batch as the API returns it (timestamps are RFC 3339 strings), read defensively. */
export interface AnthropicBatch {
  id: string;
  processing_status: ProcessingStatus;
  request_counts: RequestCounts;
  created_at: string;
  expires_at: string;
  ended_at: string | null;
  cancel_initiated_at: string | null;
  archived_at: string | null;
  results_url: string | null;
}

export interface AnthropicBatchPage {
  /** Newest first. */
  data: AnthropicBatch[];
  hasMore: boolean;
  /** Pass as `afterId` for the next (older) page. */
  lastId: string | null;
}

/** The requests a batch holds, whatever their state. */
export function requestTotal(batch: Pick<AnthropicBatch, 'request_counts'>): number {
  const c = batch.request_counts;
  return c.processing + c.succeeded + c.errored + c.canceled + c.expired;
}

const STATUSES = new Set<string>(['in_progress', 'canceling', 'ended']);
const textOrNull = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0);

export function toAnthropicBatch(raw: unknown): AnthropicBatch {
  const b = (raw ?? {}) as Record<string, unknown>;
  if (typeof b.id !== 'string' || !STATUSES.has(String(b.processing_status)) || typeof b.created_at !== 'string') {
    throw new Error(`not a message batch (id ${String(b.id)}, processing_status ${String(b.processing_status)})`);
  }
  const counts = (b.request_counts ?? {}) as Record<string, unknown>;
  return {
    id: b.id,
    processing_status: b.processing_status as ProcessingStatus,
    request_counts: {
      processing: count(counts.processing),
      succeeded: count(counts.succeeded),
      errored: count(counts.errored),
      canceled: count(counts.canceled),
      expired: count(counts.expired),
    },
    created_at: b.created_at,
    expires_at: typeof b.expires_at === 'string' ? b.expires_at : '',
    ended_at: textOrNull(b.ended_at),
    cancel_initiated_at: textOrNull(b.cancel_initiated_at),
    archived_at: textOrNull(b.archived_at),
    results_url: textOrNull(b.results_url),
  };
}

/** What the look-up found for a key: batches that are certainly its, and unfinished ones that may be. */
export interface KeyLookup {
  /** Ended batches whose results carry the key's tag, newest first. */
  matches: AnthropicBatch[];
  /** Batches of the right size still running: theirs results, and so their key, are not readable yet. */
  undecided: AnthropicBatch[];
}

export interface FindByKeyOptions {
  /** Unix seconds when the create for this key was first intended (recorded before any attempt). */
  sinceSeconds: number;
  /** Requests the key's batch holds: a batch of another size is not it. */
  lineCount: number;
  /** Which of these provider batch ids the database already records (and so belong to other keys). */
  isKnown: (providerBatchIds: string[]) => Promise<Set<string>>;
}

export interface CreateAnthropicBatchRequest {
  /** Deterministic key recorded before the call; every custom_id carries its tag (see `anthropicCustomId`). */
  batchKey: string;
  requests: Iterable<AnthropicBatchRequest> | AsyncIterable<AnthropicBatchRequest>;
  /** Unix seconds when this key's create was first intended; default: now. Look-ups list batches created since. */
  sinceSeconds?: number;
  /**
   * An earlier attempt may already have sent this create (a restart after a crash, a retry after a
   * `CreateInDoubtError`): look the batch up before sending anything.
   */
  lookFirst?: boolean;
  /** Which provider batch ids the database already records; default: none. */
  isKnown?: (providerBatchIds: string[]) => Promise<Set<string>>;
  /** Asked before every create after the first: false ends the call without creating, with a non-retryable error. */
  mayCreate?: () => Promise<boolean>;
  /** Where the request body is written before it is sent (default: the system temp directory). */
  tempDir?: string;
}

export interface AnthropicBatchClientOptions {
  /** Called before every wait between attempts: log it, count it. */
  onRetry?: (event: RetryEvent & GroqBatchSubject) => void;
  /** Called when a create whose answer was lost turns out to have created the batch. */
  onAdopt?: (batch: AnthropicBatch, batchKey: string) => void;
  /** Test seams. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

/** A create that failed this way may still have created the batch: look before creating again. */
function inDoubt(error: unknown): boolean {
  return (
    error instanceof Anthropic.APIConnectionError ||
    (error instanceof Anthropic.APIError && error.status !== undefined && (error.status >= 500 || error.status === 408 || error.status === 409))
  );
}

const noneKnown = async () => new Set<string>();

/**
 * The Anthropic Message Batches client Cascade uses, on @anthropic-ai/sdk with the SDK's retries off
 * and `#groq-batch`'s retry policy instead (backoff with jitter, retry-after honoured, bounded
 * attempts): the SDK would repeat a create blindly, with no idempotency key. The create body is
 * written to disk and streamed (see `postStreamed` of `#groq-batch`). Batches carry no metadata, so a batch whose create
 * answer was lost is recognised by the key's tag in its custom_ids (see `findBatchesByKey`).
 */
export class AnthropicBatchClient {
  private readonly anthropic: Anthropic;
  private readonly baseURL: string;

  constructor(
    private readonly config: AnthropicBatchConfig,
    private readonly options: AnthropicBatchClientOptions = {},
  ) {
    if (!config.apiKey) throw new GroqBatchConfigError('ANTHROPIC_API_KEY', 'is not set');
    this.baseURL = checkAnthropicBaseUrl(config.baseURL);
    // Our own timer ends each attempt (see `timed`); the SDK's, a little later, is only a backstop.
    this.anthropic = new Anthropic({ apiKey: config.apiKey, baseURL: this.baseURL, timeout: config.timeoutMs + 1_000, maxRetries: 0 });
  }

  private nowSeconds(): number {
    return Math.floor((this.options.now ?? Date.now)() / 1000);
  }

  private error(operation: string, subject: GroqBatchSubject, cause: unknown, attempts = 1, note?: string): AnthropicBatchError {
    if (cause instanceof AnthropicBatchError) return cause;
    const shaped = inGroqShape(cause);
    const asked = shaped instanceof Error && 'headers' in shaped ? retryAfterMs(shaped.headers as Headers | undefined) : null;
    return new AnthropicBatchError(operation, subject, cause, { secrets: [this.config.apiKey], attempts, note, retryAfterMs: asked });
  }

  /** One provider call under the retry policy, each attempt ended by our timer after `timeoutMs`. */
  private call<T>(operation: string, subject: GroqBatchSubject, attempt: (signal: AbortSignal) => Promise<T>, settings: { retryNotFound?: boolean } = {}): Promise<T> {
    return withRetries(
      operation,
      this.config,
      { sleep: this.options.sleep, random: this.options.random, onRetry: (event) => this.options.onRetry?.({ ...event, ...subject }) },
      () => this.timed(attempt).catch((error: unknown) => Promise.reject(inGroqShape(error, settings))),
      (error, attempts, note) => this.error(operation, subject, error, attempts, note),
    );
  }

  private async timed<T>(attempt: (signal: AbortSignal) => Promise<T>, timeoutMs = this.config.timeoutMs): Promise<T> {
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), timeoutMs);
    try {
      return await attempt(timer.signal);
    } catch (error) {
      if (timer.signal.aborted) throw new Anthropic.APIConnectionTimeoutError({ message: `no answer within ${timeoutMs} ms` });
      throw error;
    } finally {
      clearTimeout(timeout);
    }
  }

  /**
   * Creates the batch, never twice for one key. A 429 or 4xx means "not created". A timeout,
   * connection error, 5xx, 408 or 409 leaves it unknown: the batch is looked up for `listSettleMs`
   * and adopted if found; if a batch of the right size is still running, nothing is created and a
   * retryable `CreateInDoubtError` is thrown (retry with `lookFirst` once it has ended); only when
   * nothing can be ours is it created again, if `mayCreate` allows.
   */
  async createBatch(request: CreateAnthropicBatchRequest): Promise<AnthropicBatch> {
    const { batchKey } = request;
    const subject = { batchKey };
    batchKeyTag(batchKey);
    const sinceSeconds = request.sinceSeconds ?? this.nowSeconds();
    const dir = await mkdtemp(join(request.tempDir ?? tmpdir(), 'anthropic-batch-'));
    try {
      const body = await writeRequestsBody(request.requests, join(dir, `${randomUUID()}.json`), batchKey, {
        maxRequests: this.config.maxRequestsPerBatch,
        maxBytes: this.config.maxBytesPerBatch,
      });
      const lookup: FindByKeyOptions = { sinceSeconds, lineCount: body.count, isKnown: request.isKnown ?? noneKnown };
      if (request.lookFirst) {
        const adopted = await this.adoptWithin(batchKey, lookup, 0);
        if (adopted) return adopted;
      }
      for (let attempt = 1; ; attempt++) {
        if (attempt > 1 && request.mayCreate && !(await request.mayCreate())) {
          throw new AnthropicBatchError('create batch', subject, new Error('not created again: the caller may no longer create this batch'), { retryable: false });
        }
        let doubt: boolean;
        let failure: unknown;
        try {
          const created = await this.timed(
            (signal) =>
              // Streamed from disk: the SDK would build the whole request list as one string.
              postStreamed({
                url: `${this.baseURL}/v1/messages/batches`,
                headers: { 'x-api-key': this.config.apiKey, 'anthropic-version': this.config.anthropicVersion, 'Content-Type': 'application/json' },
                body: createReadStream(body.path, { highWaterMark: 256 * 1024 }),
                bytes: body.bytes,
                signal,
                sdkErrors: ANTHROPIC_SDK_ERRORS,
                what: 'the create',
              }),
            this.config.createTimeoutMs,
          );
          try {
            return toAnthropicBatch(created);
          } catch (error) {
            // Answered, so created, but not with a batch we can read: find it like a lost answer.
            doubt = true;
            failure = new AnthropicBatchError('create batch', subject, error, { retryable: true });
          }
        } catch (error) {
          doubt = inDoubt(error);
          failure = error;
        }
        // The settle time is waited here, so it also counts as the wait before the next attempt.
        const adopted = doubt ? await this.adoptWithin(batchKey, lookup, this.config.listSettleMs) : null;
        if (adopted) return adopted;
        const verdict =
          failure instanceof AnthropicBatchError && failure.retryable && attempt <= this.config.maxRetries
            ? { retry: true as const, delayMs: backoffDelayMs(attempt, this.config, this.options.random), reason: failure.providerMessage }
            : retryVerdict(inGroqShape(failure), attempt, this.config, this.options.random);
        if (!verdict.retry) throw this.error('create batch', subject, failure, attempt, 'explain' in verdict ? verdict.explain : undefined);
        this.options.onRetry?.({ operation: 'create batch', attempt, delayMs: verdict.delayMs, reason: verdict.reason, ...subject });
        const waited = doubt ? this.config.listSettleMs : 0;
        if (verdict.delayMs > waited) await (this.options.sleep ?? sleep)(verdict.delayMs - waited);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Looks the key up until a match shows or `settleMs` has passed (the first look at once, then with
   * backoff). A match is adopted; still-running candidates at the deadline make the create in doubt.
   */
  private async adoptWithin(batchKey: string, lookup: FindByKeyOptions, settleMs: number): Promise<AnthropicBatch | null> {
    let waited = 0;
    for (let look = 1; ; look++) {
      const { matches, undecided } = await this.findBatchesByKey(batchKey, lookup);
      const found = matches[0];
      if (found) {
        this.options.onAdopt?.(found, batchKey);
        return found;
      }
      if (waited >= settleMs) {
        if (undecided.length > 0) throw new CreateInDoubtError(batchKey, undecided.map((batch) => batch.id));
        return null;
      }
      const pause = Math.min(settleMs - waited, backoffDelayMs(look, this.config, this.options.random));
      await (this.options.sleep ?? sleep)(pause);
      waited += pause;
    }
  }

  /**
   * The batches that are, or may be, this key's, among those created since `sinceSeconds` (less the
   * clock skew) that the database does not record: of those holding `lineCount` requests, an ended
   * one is a match when its first result's custom_id carries the key's tag; a running one is
   * undecided. Reads at most `maxListPages` pages, newest first.
   */
  async findBatchesByKey(batchKey: string, options: FindByKeyOptions): Promise<KeyLookup> {
    const tag = batchKeyTag(batchKey);
    const since = options.sinceSeconds - this.config.clockSkewSeconds;
    const found: KeyLookup = { matches: [], undecided: [] };
    let afterId: string | undefined;
    for (let page = 0; page < this.config.maxListPages; page++) {
      const listed = await this.listBatches({ afterId, limit: this.config.listPageSize }, { batchKey });
      const recent = listed.data.filter((batch) => Date.parse(batch.created_at) / 1000 >= since);
      const known = recent.length > 0 ? await options.isKnown(recent.map((batch) => batch.id)) : new Set<string>();
      for (const batch of recent) {
        if (known.has(batch.id) || requestTotal(batch) !== options.lineCount) continue;
        if (batch.processing_status !== 'ended') found.undecided.push(batch);
        else if ((await this.firstResultTag(batch)) === tag) found.matches.push(batch);
      }
      if (!listed.hasMore || !listed.lastId || recent.length < listed.data.length) break;
      afterId = listed.lastId;
    }
    return found;
  }

  /**
   * Ended batches created since `sinceSeconds` (all listed when unset), newest first, each with the batch-key
   * tag of its first result (null: none of ours): what the provider sweep attributes batches by. Those
   * `isKnown` says the database records are left out, so their results are not read again each sweep.
   */
  async *endedBatchesWithTags(sinceSeconds?: number, isKnown: (ids: string[]) => Promise<Set<string>> = noneKnown): AsyncGenerator<{ batch: AnthropicBatch; tag: string | null }> {
    let afterId: string | undefined;
    for (let page = 0; page < this.config.maxListPages; page++) {
      const listed = await this.listBatches({ afterId, limit: this.config.listPageSize });
      const recent = listed.data.filter((batch) => sinceSeconds === undefined || Date.parse(batch.created_at) / 1000 >= sinceSeconds);
      const known = recent.length > 0 ? await isKnown(recent.map((batch) => batch.id)) : new Set<string>();
      for (const batch of recent) {
        if (batch.processing_status === 'ended' && !known.has(batch.id)) yield { batch, tag: await this.firstResultTag(batch) };
      }
      if (recent.length < listed.data.length) return;
      if (!listed.hasMore || !listed.lastId) return;
      afterId = listed.lastId;
    }
  }

  /** The batch-key tag of an ended batch's first result, or null when it has none of ours. */
  private async firstResultTag(batch: AnthropicBatch): Promise<string | null> {
    for await (const line of this.resultLines(batch.id, batch.results_url ?? undefined)) {
      if (line.trim() === '') continue;
      const customId = /"custom_id"\s*:\s*"([^"\\]*)"/.exec(line)?.[1];
      return customId ? batchKeyTagOf(customId) : null;
    }
    return null;
  }

  /** One page of batches, newest first; pass `lastId` back as `afterId` for the next (older) page. */
  async listBatches(page: { afterId?: string; limit?: number } = {}, subject: GroqBatchSubject = {}): Promise<AnthropicBatchPage> {
    const query = { ...(page.afterId ? { after_id: page.afterId } : {}), limit: page.limit ?? this.config.listPageSize };
    const listed = await this.call('list batches', subject, (signal) => this.anthropic.messages.batches.list(query, { signal }));
    const data: AnthropicBatch[] = [];
    for (const item of listed.data) {
      try {
        data.push(toAnthropicBatch(item));
      } catch {
        // A batch object we cannot read cannot be ours to adopt; the rest of the page still counts.
      }
    }
    return { data, hasMore: listed.has_more, lastId: listed.last_id };
  }

  /** The batch; a 404 is retried within the retry budget, since Anthropic may give one right after create. */
  /**
   * Answers one request through the on-demand Messages API with exactly the params its batch request has,
   * and returns the answer as a line of the batch's results would hold it (`{custom_id, result}`), so that
   * the results parser validates and classifies it. One attempt: an API error is an `errored` result of the
   * provider's error type (an overloaded or 5xx answer is retried like a batch's), a call that got no answer a
   * `timeout_error`. Never with the key in it.
   */
  async answerOnDemand(customId: string, params: Record<string, unknown>): Promise<string> {
    try {
      const message = await this.timed((signal) =>
        this.anthropic.messages.create(params as unknown as Anthropic.MessageCreateParamsNonStreaming, { signal }),
      );
      return JSON.stringify({ custom_id: customId, result: { type: 'succeeded', message } });
    } catch (error) {
      if (error instanceof Anthropic.APIError && typeof error.status === 'number') {
        // The SDK keeps the error body (`{type: 'error', error: {type, message}}`), which is what an errored result holds.
        const body = typeof error.error === 'object' && error.error !== null ? error.error : { type: 'error', error: { type: 'api_error', message: this.error('on-demand answer', {}, error).message } };
        return JSON.stringify({ custom_id: customId, result: { type: 'errored', error: body } });
      }
      if (error instanceof Anthropic.APIConnectionError) {
        const message = this.error('on-demand answer', {}, error).message;
        return JSON.stringify({ custom_id: customId, result: { type: 'errored', error: { type: 'error', error: { type: 'timeout_error', message } } } });
      }
      throw this.error('on-demand answer', {}, error);
    }
  }

  async retrieveBatch(batchId: string): Promise<AnthropicBatch> {
    const raw = await this.call('retrieve batch', { batchId }, (signal) => this.anthropic.messages.batches.retrieve(batchId, {}, { signal }), { retryNotFound: true });
    return this.read('retrieve batch', { batchId }, raw);
  }

  async cancelBatch(batchId: string): Promise<AnthropicBatch> {
    const raw = await this.call('cancel batch', { batchId }, (signal) => this.anthropic.messages.batches.cancel(batchId, {}, { signal }));
    return this.read('cancel batch', { batchId }, raw);
  }

  /** Deletes an ended batch (Anthropic refuses one still processing: cancel it and wait first). */
  async deleteBatch(batchId: string): Promise<void> {
    await this.call('delete batch', { batchId }, (signal) => this.anthropic.messages.batches.delete(batchId, {}, { signal }));
  }

  private read(operation: string, subject: GroqBatchSubject, raw: unknown): AnthropicBatch {
    try {
      return toAnthropicBatch(raw);
    } catch (error) {
      throw new AnthropicBatchError(operation, subject, error, { retryable: false });
    }
  }

  /**
   * The raw JSONL lines of an ended batch's results, streamed: read them with
   * `parseAnthropicResultLine`. The request is retried (a 404 too, as for retrieve); a body that stays
   * silent for `timeoutMs` is aborted. A failure mid-body is thrown, not retried: lines already handed
   * out cannot be taken back. `resultsUrl` saves a retrieve when the caller has the ended batch.
   */
  async *resultLines(batchId: string, resultsUrl?: string): AsyncGenerator<string> {
    const subject = { batchId };
    const url = resultsUrl ?? (await this.retrieveBatch(batchId)).results_url;
    if (!url) {
      throw new AnthropicBatchError('download results', subject, new Error('the batch has no results_url: it has not ended'), { retryable: true });
    }
    // The per-attempt timer stops once the headers are in; this one lets the idle watchdog end the body.
    const controller = new AbortController();
    const response = await this.call(
      'download results',
      subject,
      (signal) => this.anthropic.get<Response>(url, { signal: AbortSignal.any([signal, controller.signal]), headers: { Accept: 'application/binary' }, __binaryResponse: true }),
      { retryNotFound: true },
    );
    if (!response.body) return;
    yield* watchedLines(response.body as unknown as AsyncIterable<Uint8Array>, controller, this.config.timeoutMs, (error, timedOut) =>
      new AnthropicBatchError('download results', subject, timedOut ? new Error(`no data for ${this.config.timeoutMs} ms mid-results`) : error, {
        secrets: [this.config.apiKey],
        retryable: true,
      }),
    );
  }
}
