import Anthropic from '@anthropic-ai/sdk';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'groq-sdk';
import { GroqBatchError, type GroqBatchSubject } from '#groq-batch';

/**
 * The Anthropic SDK's error in the groq-sdk class `#groq-batch` reads (`retryVerdict`, `withRetries`,
 * `GroqBatchError`), with status, body and headers (retry-after, x-should-retry) kept: both SDKs come
 * from the same generator, so the classes mean the same. Anything else passes through unchanged.
 */
export function inGroqShape(error: unknown, options: { retryNotFound?: boolean } = {}): unknown {
  if (error instanceof Anthropic.APIUserAbortError) return new APIUserAbortError({ message: error.message });
  if (error instanceof Anthropic.APIConnectionTimeoutError) return new APIConnectionTimeoutError({ message: error.message });
  if (error instanceof Anthropic.APIConnectionError) return new APIConnectionError({ message: error.message, cause: error.cause instanceof Error ? error.cause : undefined });
  if (error instanceof Anthropic.APIError && error.status !== undefined) {
    const headers = new Headers(error.headers ?? undefined);
    // Anthropic may answer 404 for a batch created moments ago: worth another look, within the retry budget.
    if (options.retryNotFound && error.status === 404 && !headers.has('x-should-retry')) headers.set('x-should-retry', 'true');
    return APIError.generate(error.status, error.error as object | undefined, error.message, headers);
  }
  return error;
}

/**
 * A failed Message Batches call: a `GroqBatchError` (same fields, same scrubbing of the key, same
 * `retryable`) named for this provider, read from an Anthropic or groq-shaped SDK error.
 */
export class AnthropicBatchError extends GroqBatchError {
  constructor(operation: string, subject: GroqBatchSubject, cause: unknown, options: ConstructorParameters<typeof GroqBatchError>[3] = {}) {
    super(operation, subject, inGroqShape(cause), options);
    this.name = 'AnthropicBatchError';
    this.stack = this.stack?.replace(/^GroqBatchError/, 'AnthropicBatchError');
  }
}

/**
 * A create whose answer was lost, where a batch of the same size exists that may be ours but cannot be
 * told apart until it ends (its results carry the key). Creating again could pay twice, so nothing is
 * created: retry later, when the candidates have ended, and the look-up decides. Always retryable.
 */
export class CreateInDoubtError extends AnthropicBatchError {
  constructor(
    batchKey: string,
    /** The provider batches that may be this key's. */
    readonly candidates: readonly string[],
  ) {
    const note = `not created again: batch${candidates.length === 1 ? '' : 'es'} ${candidates.join(', ')} may be this one and ha${candidates.length === 1 ? 's' : 've'} not ended yet`;
    super('create batch', { batchKey }, new Error('the create answer was lost'), { retryable: true, note });
    this.name = 'CreateInDoubtError';
    this.stack = this.stack?.replace(/^AnthropicBatchError/, 'CreateInDoubtError');
  }
}
