import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { type BatchClientConfig, BatchConfigError } from './config.js';
import { BatchApiError, type BatchApiSubject } from './errors.js';
import { watchedLines } from './file-lines.js';
import { BATCH_ENDPOINT, type BatchInputFile, type BatchInputLine, type InputFileLimits, writeBatchInputFiles } from './input-file.js';
import { postMultipartFile } from './multipart-upload.js';
import { type CollectedOutcomes, collectOutcomes, type OutcomeSource } from './parse.js';
import { adoptableBatch } from './reconcile.js';
import { backoffDelayMs, type RetryEvent, type RetryPolicy, retryAfterMs, retryVerdict, sleep, withRetries } from './retry.js';
import { isSdkApiError, isSdkConnectionError, type SdkErrorClasses } from './sdk-errors.js';

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** A provider batch, normalised: absent or empty file ids are null, metadata is a string map. */
export interface ProviderBatch {
  id: string;
  status: BatchStatus;
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  output_file_id: string | null;
  error_file_id: string | null;
  request_counts: { total: number; completed: number; failed: number } | null;
  metadata: Record<string, string> | null;
  /** `{object:'list', data:[…]}` or a bare array: read it with `batchErrorsOf`. */
  errors: unknown;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number | null;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
}

export interface BatchPage {
  data: ProviderBatch[];
  nextCursor: string | null;
}

export interface ProviderFile {
  id: string;
  bytes: number | null;
  filename: string | null;
  purpose: string | null;
  created_at: number | null;
}

/** Metadata keys under which our identity of a batch travels with the provider batch. */
export const BATCH_KEY_METADATA = 'cascade_batch_key';
export const PASS_METADATA = 'cascade_pass';
export const PROMPT_VERSION_METADATA = 'cascade_prompt_version';

export interface CreateBatchRequest {
  inputFileId: string;
  /** Deterministic key recorded before the call: the batch is found by it if the answer is lost. */
  batchKey: string;
  pass?: number;
  promptVersion?: string;
  /** Extra string metadata (at most 16 pairs in all, keys ≤ 64 and values ≤ 512 characters). */
  metadata?: Record<string, string>;
  completionWindow?: string;
  /**
   * Asked before every create after the first: false ends the call without creating (the caller lost the
   * right to create, e.g. its lease was taken over), with a non-retryable error.
   */
  mayCreate?: () => Promise<boolean>;
}

export interface BatchClientOptions {
  /** Called before every wait between attempts: log it, count it. */
  onRetry?: (event: RetryEvent & BatchApiSubject) => void;
  /** Called when a create whose answer was lost turns out to have created the batch. */
  onAdopt?: (batch: ProviderBatch, batchKey: string) => void;
  /** Test seams. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const STATUSES = new Set<string>(['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled']);
const fileId = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
const timestamp = (value: unknown) => (typeof value === 'number' ? value : null);

/** Reads the provider's batch object defensively: empty file ids (`""`, `{}`) mean "no file". */
export function toProviderBatch(raw: unknown): ProviderBatch {
  const b = (raw ?? {}) as Record<string, unknown>;
  if (typeof b.id !== 'string' || !STATUSES.has(String(b.status))) {
    throw new Error(`not a batch object (id ${String(b.id)}, status ${String(b.status)})`);
  }
  const counts = b.request_counts as Record<string, unknown> | null | undefined;
  const metadata =
    b.metadata && typeof b.metadata === 'object'
      ? Object.fromEntries(Object.entries(b.metadata as Record<string, unknown>).filter(([, v]) => typeof v === 'string')) as Record<string, string>
      : null;
  return {
    id: b.id,
    status: b.status as BatchStatus,
    endpoint: typeof b.endpoint === 'string' ? b.endpoint : BATCH_ENDPOINT,
    input_file_id: typeof b.input_file_id === 'string' ? b.input_file_id : '',
    completion_window: typeof b.completion_window === 'string' ? b.completion_window : '',
    output_file_id: fileId(b.output_file_id),
    error_file_id: fileId(b.error_file_id),
    request_counts: counts
      ? { total: Number(counts.total ?? 0), completed: Number(counts.completed ?? 0), failed: Number(counts.failed ?? 0) }
      : null,
    metadata,
    errors: b.errors ?? null,
    created_at: timestamp(b.created_at) ?? 0,
    in_progress_at: timestamp(b.in_progress_at),
    expires_at: timestamp(b.expires_at),
    finalizing_at: timestamp(b.finalizing_at),
    completed_at: timestamp(b.completed_at),
    failed_at: timestamp(b.failed_at),
    expired_at: timestamp(b.expired_at),
    cancelling_at: timestamp(b.cancelling_at),
    cancelled_at: timestamp(b.cancelled_at),
  };
}

/** Reads a File object defensively; null when it has no id. */
function toProviderFile(raw: unknown): ProviderFile | null {
  const file = (raw ?? {}) as Record<string, unknown>;
  if (typeof file.id !== 'string') return null;
  return {
    id: file.id,
    bytes: typeof file.bytes === 'number' ? file.bytes : null,
    filename: typeof file.filename === 'string' ? file.filename : null,
    purpose: typeof file.purpose === 'string' ? file.purpose : null,
    created_at: typeof file.created_at === 'number' ? file.created_at : null,
  };
}

function checkMetadata(metadata: Record<string, string>, batchKey: string): void {
  const entries = Object.entries(metadata);
  const problem =
    entries.length > 16
      ? `${entries.length} metadata pairs (at most 16)`
      : entries.map(([k, v]) => (typeof v !== 'string' ? `metadata ${k} is not a string` : k.length > 64 ? `metadata key ${k} is longer than 64` : v.length > 512 ? `metadata ${k} is longer than 512` : null)).find(Boolean);
  if (problem) throw new BatchApiError('create batch', { batchKey }, new Error(problem), { retryable: false });
}

/** A create that failed this way may still have created the batch: look before creating again. */
function inDoubt(error: unknown): boolean {
  return isSdkConnectionError(error) || (isSdkApiError(error) && error.status !== undefined && (error.status >= 500 || error.status === 408 || error.status === 409));
}

/** One page of a list answer, read the provider's way: `nextCursor` null on the last page. */
export interface RawListPage {
  data: unknown[];
  nextCursor: string | null;
}

/** The parameters of `POST /batches`, identical on Groq and OpenAI. */
export interface BatchCreateParams {
  input_file_id: string;
  endpoint: typeof BATCH_ENDPOINT;
  completion_window: string;
  metadata: Record<string, string>;
}

/**
 * What differs between two OpenAI-compatible Batch APIs, and nothing else: the SDK each call goes
 * through (groq-sdk or openai, with its error classes), the files route uploads are streamed to, how a
 * list answer names its next page, and which completion windows are accepted. Each method makes one
 * attempt; retries, timers and error wrapping are the client's.
 */
export interface BatchApiDialect {
  /** Full URL of `POST …/files`. */
  filesUrl: string;
  sdkErrors: SdkErrorClasses;
  checkCompletionWindow(window: string, variable?: string): string;
  createBatch(params: BatchCreateParams, signal: AbortSignal): Promise<unknown>;
  retrieveBatch(batchId: string, signal: AbortSignal): Promise<unknown>;
  cancelBatch(batchId: string, signal: AbortSignal): Promise<unknown>;
  listBatches(cursor: string | null, signal: AbortSignal): Promise<RawListPage>;
  listFiles(cursor: string | null, signal: AbortSignal): Promise<RawListPage>;
  deleteFile(fileId: string, signal: AbortSignal): Promise<unknown>;
  /** The file's bytes as a fetch `Response` whose body is read as a stream. */
  fileContent(fileId: string, signal: AbortSignal): Promise<Response>;
  /** `POST …/chat/completions` with a batch line's body, on demand (full price). */
  chatCompletion(body: Record<string, unknown>, signal: AbortSignal): Promise<unknown>;
}

/**
 * The Files + Batches client for any OpenAI-compatible Batch API; `GroqBatchClient` and
 * `OpenAiBatchClient` are this client with their provider's dialect. Retries are ours (one policy for
 * every call: backoff with jitter, retry-after honoured, bounded attempts); the SDK's own are off,
 * because it would repeat `POST /batches` blindly and neither API has an idempotency key. Uploads stream
 * their multipart body from disk (see `postMultipartFile`): `files.create` would read the whole file
 * into memory.
 */
export class CompatibleBatchClient {
  private readonly dialect: BatchApiDialect;
  private readonly policy: RetryPolicy;

  /**
   * `connect` checks the base URL and builds the SDK; it runs only once the key is known to be set (an
   * SDK built without a key throws its own error, which would not name our variable).
   */
  protected constructor(
    private readonly config: BatchClientConfig,
    provider: { apiKeyVariable: string; connect: () => BatchApiDialect },
    private readonly options: BatchClientOptions = {},
  ) {
    if (!config.apiKey) throw new BatchConfigError(provider.apiKeyVariable, 'is not set');
    this.dialect = provider.connect();
    this.dialect.checkCompletionWindow(config.completionWindow);
    this.policy = config;
  }

  get limits(): InputFileLimits {
    return { maxLines: this.config.maxLinesPerFile, maxBytes: this.config.maxBytesPerFile };
  }

  private error(operation: string, subject: BatchApiSubject, cause: unknown, attempts = 1, note?: string): BatchApiError {
    if (cause instanceof BatchApiError) return cause;
    const asked = isSdkApiError(cause) ? retryAfterMs(cause.headers) : null;
    return new BatchApiError(operation, subject, cause, { secrets: [this.config.apiKey], attempts, note, retryAfterMs: asked });
  }

  /**
   * One provider call under the retry policy. Each attempt gets a signal that our timer aborts after
   * `timeoutMs`; an attempt ended that way is a timeout (retried), whatever the SDK made of the abort.
   */
  private call<T>(operation: string, subject: BatchApiSubject, attempt: (signal: AbortSignal) => Promise<T>, timeoutMs = this.config.timeoutMs): Promise<T> {
    return withRetries(
      operation,
      this.policy,
      { sleep: this.options.sleep, random: this.options.random, onRetry: (event) => this.options.onRetry?.({ ...event, ...subject }) },
      () => this.timed(attempt, timeoutMs),
      (error, attempts, note) => this.error(operation, subject, error, attempts, note),
    );
  }

  private async timed<T>(attempt: (signal: AbortSignal) => Promise<T>, timeoutMs = this.config.timeoutMs): Promise<T> {
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), timeoutMs);
    try {
      return await attempt(timer.signal);
    } catch (error) {
      if (timer.signal.aborted) throw new this.dialect.sdkErrors.APIConnectionTimeoutError({ message: `no answer within ${timeoutMs} ms` });
      throw error;
    } finally {
      clearTimeout(timeout);
    }
  }

  /**
   * Answers one batch line through the on-demand chat completions API, with exactly the body the batch
   * would have sent, and returns the answer as the batch's result line would hold it (`{custom_id,
   * response: {status_code, body}}`), so that the batch parser validates and classifies it: one schema and
   * one classifier for both paths. One attempt, never retried here: a failure is filed like a failed line
   * (a 5xx or a timeout is transient, and the retry-service decides). Throws only for what is not an
   * answer of the provider's, and never with the key in it.
   */
  async answerOnDemand(customId: string, body: Record<string, unknown>): Promise<string> {
    try {
      const completion = await this.timed((signal) => this.dialect.chatCompletion(body, signal));
      return JSON.stringify({ custom_id: customId, response: { status_code: 200, body: completion }, error: null });
    } catch (error) {
      if (isSdkApiError(error) && typeof error.status === 'number') {
        // groq-sdk keeps the whole error body (`{error: {...}}`), openai its `error` member: the line wants the member.
        const given = (error as { error?: unknown }).error;
        const member = typeof given === 'object' && given !== null && 'error' in given ? (given as { error: unknown }).error : given;
        const detail = typeof member === 'object' && member !== null ? member : { message: this.error('on-demand answer', {}, error).message };
        return JSON.stringify({ custom_id: customId, response: { status_code: error.status, body: { error: detail } }, error: null });
      }
      if (isSdkConnectionError(error)) {
        // No HTTP answer: a line that never ran, as OpenAI's error files say it.
        const message = this.error('on-demand answer', {}, error).message;
        return JSON.stringify({ custom_id: customId, response: null, error: { code: 'request_timeout', message } });
      }
      throw this.error('on-demand answer', {}, error);
    }
  }

  /** Writes request lines as JSONL files under `dir`, split by this client's line and byte limits. */
  writeInputFiles(lines: Iterable<BatchInputLine> | AsyncIterable<BatchInputLine>, dir: string, baseName?: string): Promise<BatchInputFile[]> {
    return writeBatchInputFiles(lines, dir, this.limits, baseName);
  }

  /** Uploads a JSONL input file (`purpose: batch`) and returns its file id. */
  async uploadFile(path: string): Promise<string> {
    return (await this.uploadInputFile(path)).id;
  }

  /**
   * Uploads with the multipart body streamed from disk, so peak memory stays flat whatever the file
   * size (the SDK's `files.create` buffers the whole file), on the same route and auth, with the
   * SDK's error types. Each attempt re-reads the file from the start.
   */
  async uploadInputFile(path: string): Promise<ProviderFile> {
    const name = basename(path);
    const subject = { fileName: name };
    const size = await stat(path).then(
      (s) => s.size,
      (error: unknown) => {
        throw this.error('upload file', subject, error);
      },
    );
    if (size === 0 || size > this.config.maxBytesPerFile) {
      const problem = size === 0 ? 'the file is empty' : `${size} bytes is above the ${this.config.maxBytesPerFile}-byte limit: split it with writeBatchInputFiles`;
      throw new BatchApiError('upload file', subject, new Error(problem), { retryable: false });
    }
    const uploaded = await this.call(
      'upload file',
      subject,
      (signal) =>
        postMultipartFile({
          url: this.dialect.filesUrl,
          apiKey: this.config.apiKey,
          path,
          bytes: size,
          fileName: name,
          fields: { purpose: 'batch' },
          signal,
          sdkErrors: this.dialect.sdkErrors,
        }),
      this.config.uploadTimeoutMs,
    );
    const file = toProviderFile(uploaded);
    if (!file || file.id === '') {
      throw new BatchApiError('upload file', subject, new Error('the provider answered without a file id'), { retryable: false });
    }
    return file;
  }

  /**
   * Creates the batch, never twice for one key. A 429 means "not created": wait and try again. A
   * timeout, connection error or 5xx leaves it unknown: look the batch up by its key in the provider's
   * metadata for `listSettleMs` (a new batch may be listed late), adopt it if it shows, and only then
   * create again (if `mayCreate` allows). Whoever retries a failed create later must look it up first.
   */
  async createBatch(request: CreateBatchRequest): Promise<ProviderBatch> {
    const subject = { batchKey: request.batchKey, fileId: request.inputFileId };
    const metadata: Record<string, string> = { ...request.metadata };
    if (metadata[BATCH_KEY_METADATA] !== undefined && metadata[BATCH_KEY_METADATA] !== request.batchKey) {
      throw new BatchApiError('create batch', subject, new Error(`metadata ${BATCH_KEY_METADATA} contradicts the batch key`), { retryable: false });
    }
    metadata[BATCH_KEY_METADATA] = request.batchKey;
    if (request.pass !== undefined) metadata[PASS_METADATA] = String(request.pass);
    if (request.promptVersion !== undefined) metadata[PROMPT_VERSION_METADATA] = request.promptVersion;
    checkMetadata(metadata, request.batchKey);
    const completionWindow = this.dialect.checkCompletionWindow(request.completionWindow ?? this.config.completionWindow, 'completionWindow');

    for (let attempt = 1; ; attempt++) {
      if (attempt > 1 && request.mayCreate && !(await request.mayCreate())) {
        throw new BatchApiError('create batch', subject, new Error('not created again: the caller may no longer create this batch'), { retryable: false });
      }
      let doubt: boolean;
      let failure: unknown;
      try {
        const created = await this.timed((signal) =>
          this.dialect.createBatch({ input_file_id: request.inputFileId, endpoint: BATCH_ENDPOINT, completion_window: completionWindow, metadata }, signal),
        );
        try {
          return toProviderBatch(created);
        } catch (error) {
          // Answered, so created, but not with a batch we can read: find it by its key like a lost answer.
          doubt = true;
          failure = new BatchApiError('create batch', subject, error, { retryable: true });
        }
      } catch (error) {
        doubt = inDoubt(error);
        failure = error;
      }
      // The settle time is waited here, so it also counts as the wait before the next attempt.
      const adopted = doubt ? await this.adoptWithin(request.batchKey, this.config.listSettleMs) : null;
      if (adopted) return adopted;
      const verdict = failure instanceof BatchApiError && failure.retryable && attempt <= this.policy.maxRetries
        ? { retry: true as const, delayMs: backoffDelayMs(attempt, this.policy, this.options.random), reason: failure.providerMessage }
        : retryVerdict(failure, attempt, this.policy, this.options.random);
      if (!verdict.retry) throw this.error('create batch', subject, failure, attempt, 'explain' in verdict ? verdict.explain : undefined);
      this.options.onRetry?.({ operation: 'create batch', attempt, delayMs: verdict.delayMs, reason: verdict.reason, ...subject });
      const waited = doubt ? this.config.listSettleMs : 0;
      if (verdict.delayMs > waited) await (this.options.sleep ?? sleep)(verdict.delayMs - waited);
    }
  }

  /** Looks the key up until found or `settleMs` has passed (the first look is at once; then with backoff). */
  private async adoptWithin(batchKey: string, settleMs: number): Promise<ProviderBatch | null> {
    let waited = 0;
    for (let look = 1; ; look++) {
      const found = adoptableBatch((await this.findBatchesByKey(batchKey)).map((batch) => ({ ...batch, createdAt: batch.created_at })));
      if (found) {
        this.options.onAdopt?.(found, batchKey);
        return found;
      }
      if (waited >= settleMs) return null;
      const pause = Math.min(settleMs - waited, backoffDelayMs(look, this.policy, this.options.random));
      await (this.options.sleep ?? sleep)(pause);
      waited += pause;
    }
  }

  /** The newest provider batch whose metadata carries `batchKey`, or null. */
  async findBatchByKey(batchKey: string): Promise<ProviderBatch | null> {
    return (await this.findBatchesByKey(batchKey))[0] ?? null;
  }

  /**
   * Every batch carrying `batchKey` on the first page that has any (newest first). Pages through
   * `batches.list` with the provider's cursor, at most `maxListPages` pages.
   */
  async findBatchesByKey(batchKey: string): Promise<ProviderBatch[]> {
    const seenCursors = new Set<string>();
    let cursor: string | null = null;
    for (let page = 0; page < this.config.maxListPages; page++) {
      const listed = await this.listPage(cursor, { batchKey });
      const matches = listed.data.filter((batch) => batch.metadata?.[BATCH_KEY_METADATA] === batchKey);
      if (matches.length) return matches.sort((a, b) => b.created_at - a.created_at);
      if (!listed.nextCursor || seenCursors.has(listed.nextCursor)) return [];
      seenCursors.add(listed.nextCursor);
      cursor = listed.nextCursor;
    }
    return [];
  }

  /** One page of batches, newest first; pass `nextCursor` back as `cursor` for the next page. */
  listBatches(options: { cursor?: string } = {}): Promise<BatchPage> {
    return this.listPage(options.cursor ?? null, {});
  }

  private async listPage(cursor: string | null, subject: BatchApiSubject): Promise<BatchPage> {
    const page = await this.call('list batches', subject, (signal) => this.dialect.listBatches(cursor, signal));
    const data: ProviderBatch[] = [];
    for (const item of page.data) {
      try {
        data.push(toProviderBatch(item));
      } catch {
        // A batch object we cannot read cannot be ours to adopt; the rest of the page still counts.
      }
    }
    return { data, nextCursor: page.nextCursor };
  }

  async retrieveBatch(batchId: string): Promise<ProviderBatch> {
    const raw = await this.call('retrieve batch', { batchId }, (signal) => this.dialect.retrieveBatch(batchId, signal));
    return this.read('retrieve batch', { batchId }, raw);
  }

  async cancelBatch(batchId: string): Promise<ProviderBatch> {
    const raw = await this.call('cancel batch', { batchId }, (signal) => this.dialect.cancelBatch(batchId, signal));
    return this.read('cancel batch', { batchId }, raw);
  }

  /** The files the key can see, every page (Groq answers in one; OpenAI pages), at most `maxListPages` pages. */
  async listFiles(): Promise<ProviderFile[]> {
    const files: ProviderFile[] = [];
    const seenCursors = new Set<string>();
    let cursor: string | null = null;
    for (let page = 0; page < this.config.maxListPages; page++) {
      const listed: RawListPage = await this.call('list files', {}, (signal) => this.dialect.listFiles(cursor, signal));
      files.push(...listed.data.flatMap((raw) => toProviderFile(raw) ?? []));
      if (!listed.nextCursor || seenCursors.has(listed.nextCursor)) break;
      seenCursors.add(listed.nextCursor);
      cursor = listed.nextCursor;
    }
    return files;
  }

  async deleteFile(fileId: string): Promise<void> {
    await this.call('delete file', { fileId }, (signal) => this.dialect.deleteFile(fileId, signal));
  }

  private read(operation: string, subject: BatchApiSubject, raw: unknown): ProviderBatch {
    try {
      return toProviderBatch(raw);
    } catch (error) {
      throw new BatchApiError(operation, subject, error, { retryable: false });
    }
  }

  /**
   * The lines of an output or error file, streamed: a 100 MB file is never held whole. The request
   * is retried; a body that stays silent for `timeoutMs` is aborted (the SDK's timeout ends with the
   * headers). A failure mid-body is thrown, not retried: lines already handed out cannot be taken back.
   */
  async *fileLines(fileId: string): AsyncGenerator<string> {
    // The per-attempt timer stops once the headers are in; this one lets the idle watchdog end the body.
    const controller = new AbortController();
    const response = await this.call('download file', { fileId }, (signal) =>
      this.dialect.fileContent(fileId, AbortSignal.any([signal, controller.signal])),
    );
    if (!response.body) return;
    yield* watchedLines(response.body as unknown as AsyncIterable<Uint8Array>, controller, this.config.timeoutMs, (error, timedOut) =>
      new BatchApiError('download file', { fileId }, timedOut ? new Error(`no data for ${this.config.timeoutMs} ms mid-file`) : error, {
        secrets: [this.config.apiKey],
        retryable: true,
      }),
    );
  }

  /** Streams a terminal batch's output and error files into one outcome per custom_id. */
  async readBatchOutcomes(batch: Pick<ProviderBatch, 'id' | 'output_file_id' | 'error_file_id'>): Promise<CollectedOutcomes> {
    const sources: OutcomeSource[] = [];
    if (batch.output_file_id) sources.push({ source: 'output', lines: this.fileLines(batch.output_file_id) });
    if (batch.error_file_id) sources.push({ source: 'error', lines: this.fileLines(batch.error_file_id) });
    return collectOutcomes(sources);
  }
}
