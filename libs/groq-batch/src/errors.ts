import { isSdkApiError, isSdkConnectionError, isSdkTimeoutError, isSdkUserAbortError } from './sdk-errors.js';

/** Provider keys (Groq's `gsk_…`, OpenAI's `sk-…` and `sk-proj-…`) and bearer tokens, wherever they show up in a message or a stack. */
const SECRET_PATTERNS = [/gsk_[A-Za-z0-9]{8,}/g, /\bsk-[A-Za-z0-9_-]{16,}/g, /Bearer\s+[A-Za-z0-9._~+/=-]{6,}/gi];

export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 6) out = out.split(secret).join('[REDACTED]');
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, '[REDACTED]');
  return out;
}

/** What a failed provider call concerned: the error message names each one that is known. */
export interface BatchApiSubject {
  batchId?: string;
  fileId?: string;
  batchKey?: string;
  /** A local input file (its name, not a path of this machine). */
  fileName?: string;
}

/** The provider's view of a failure, read from an SDK error or a raw HTTP answer. */
export interface ProviderFailure {
  status: number | null;
  code: string | null;
  type: string | null;
  message: string;
  timedOut: boolean;
}

/** Reads status, code, type and message from what either SDK threw (its `error` is the whole JSON body). */
export function providerFailureOf(error: unknown): ProviderFailure {
  if (isSdkTimeoutError(error)) {
    const message = error.message && error.message !== 'Request timed out.' ? `the request timed out (${error.message})` : 'the request timed out';
    return { status: null, code: 'timeout', type: null, message, timedOut: true };
  }
  if (isSdkUserAbortError(error)) {
    return { status: null, code: 'aborted', type: null, message: 'the request was aborted', timedOut: false };
  }
  if (isSdkConnectionError(error)) {
    const cause = (error as { cause?: unknown }).cause;
    const nested = (cause as { cause?: { message?: unknown } } | undefined)?.cause?.message;
    const detail = cause instanceof Error && cause.message !== '{}' ? `${cause.message}${typeof nested === 'string' ? ` (${nested})` : ''}` : '';
    return { status: null, code: 'connection_error', type: null, message: `connection error${detail ? `: ${detail}` : ''}`, timedOut: false };
  }
  if (isSdkApiError(error)) {
    const body = error.error as { error?: Record<string, unknown> } & Record<string, unknown> | undefined;
    const inner = (body?.error && typeof body.error === 'object' ? body.error : body) ?? {};
    const text = (value: unknown) => (typeof value === 'string' && value ? value : null);
    return {
      status: error.status ?? null,
      code: text(inner.code),
      type: text(inner.type),
      message: text(inner.message) ?? error.message,
      timedOut: false,
    };
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return { status: null, code: 'timeout', type: null, message: 'the request timed out', timedOut: true };
  }
  return { status: null, code: null, type: null, message: error instanceof Error ? error.message : String(error), timedOut: false };
}

function describeSubject(subject: BatchApiSubject): string {
  const parts = [
    subject.batchId && `batch ${subject.batchId}`,
    subject.fileId && `file ${subject.fileId}`,
    subject.batchKey && `batch key ${subject.batchKey}`,
    subject.fileName && `input ${subject.fileName}`,
  ].filter(Boolean);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/**
 * A provider call that failed: names the operation and the batch, file or key it concerned, keeps
 * the HTTP status and provider code, and never carries the API key. Message and stack are scrubbed,
 * and the SDK's error is not kept (its request options hold the key). Thrown by every client of this
 * library (Groq and OpenAI), so a caller handles a provider failure the same way whichever it talks to.
 */
export class BatchApiError extends Error {
  readonly operation: string;
  readonly subject: BatchApiSubject;
  readonly status: number | null;
  readonly code: string | null;
  readonly type: string | null;
  /** The provider's own message (or the connection problem), scrubbed. */
  readonly providerMessage: string;
  readonly attempts: number;
  /** Whether trying the same call again later may succeed (429, 5xx, timeouts, connection errors). */
  readonly retryable: boolean;
  /** The wait the provider asked for before another attempt (its `retry-after`), if it named one. */
  readonly retryAfterMs: number | null;

  constructor(
    operation: string,
    subject: BatchApiSubject,
    cause: unknown,
    options: {
      secrets?: readonly (string | undefined)[];
      attempts?: number;
      note?: string;
      retryable?: boolean;
      retryAfterMs?: number | null;
      /** The HTTP status the failure stands for when the cause is not a provider's answer (a spool gone with its process: 404). */
      status?: number;
    } = {},
  ) {
    const failure = { ...providerFailureOf(cause), ...(options.status === undefined ? {} : { status: options.status }) };
    const secrets = options.secrets ?? [];
    const attempts = options.attempts ?? 1;
    const providerMessage = redact(failure.message, secrets).slice(0, 2_000);
    const status = failure.status !== null ? ` with HTTP ${failure.status}` : '';
    const code = failure.code ? ` ${failure.code}` : '';
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    const note = options.note ? ` (${redact(options.note, secrets)})` : '';
    super(redact(`${operation}${describeSubject(subject)} failed${status}${code}${tries}: ${providerMessage}${note}`, secrets));
    this.name = 'BatchApiError';
    this.operation = operation;
    this.subject = { ...subject };
    this.status = failure.status;
    this.code = failure.code;
    this.type = failure.type;
    this.providerMessage = providerMessage;
    this.attempts = attempts;
    this.retryable = options.retryable ?? (failure.status === null ? failure.code !== 'aborted' && failure.code !== null : isRetryableStatus(failure.status));
    this.retryAfterMs = options.retryAfterMs ?? null;
    // Our own frames only: the cause's stack would repeat its unscrubbed message.
    this.stack = redact(this.stack ?? `${this.name}: ${this.message}`, secrets);
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      operation: this.operation,
      subject: this.subject,
      status: this.status,
      code: this.code,
      type: this.type,
      attempts: this.attempts,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
    };
  }
}

/** The name this error had when the library spoke to Groq only; the same class. */
export const GroqBatchError = BatchApiError;
export type GroqBatchError = BatchApiError;
export type GroqBatchSubject = BatchApiSubject;

/** 408 timeout, 409 lock conflict, 429 rate limit, 498 flex capacity, 5xx: worth another attempt. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status === 498 || status >= 500;
}
