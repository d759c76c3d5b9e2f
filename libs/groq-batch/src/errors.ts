import { APIError } from 'groq-sdk';

/** Provider keys and bearer tokens, wherever they show up in a message or a stack. */
const SECRET_PATTERNS = [/gsk_[A-Za-z0-9]{8,}/g, /Bearer\s+[A-Za-z0-9._~+/=-]{6,}/gi];

export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 6) out = out.split(secret).join('[REDACTED]');
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, '[REDACTED]');
  return out;
}

/**
 * A provider call that failed: names the operation and the batch or file it concerned, keeps the
 * HTTP status and provider code, and never carries the API key (message and stack are scrubbed, and
 * the original error object, whose request options hold the key, is not kept).
 */
export class GroqBatchError extends Error {
  readonly status: number | null;
  readonly code: string | null;
  readonly retryable: boolean;

  constructor(
    readonly operation: string,
    readonly subject: string | null,
    cause: unknown,
    secrets: readonly (string | undefined)[] = [],
  ) {
    const status = cause instanceof APIError ? (cause.status ?? null) : null;
    const code =
      cause instanceof APIError
        ? ((cause.error as { code?: string; error?: { code?: string } } | undefined)?.error?.code ??
          (cause.error as { code?: string } | undefined)?.code ??
          null)
        : null;
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(redact(`${operation}${subject ? ` (${subject})` : ''} failed${status ? ` with HTTP ${status}` : ''}: ${detail}`, secrets));
    this.name = 'GroqBatchError';
    this.status = status;
    this.code = code;
    this.retryable = status === null || status === 408 || status === 409 || status === 429 || status >= 500;
    this.stack = redact(`${this.name}: ${this.message}\n${(cause instanceof Error ? cause.stack : '')?.split('\n').slice(1).join('\n') ?? ''}`, secrets);
  }

  toJSON() {
    return { name: this.name, message: this.message, operation: this.operation, subject: this.subject, status: this.status, code: this.code };
  }
}
