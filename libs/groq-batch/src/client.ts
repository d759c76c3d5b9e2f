import Groq from 'groq-sdk';
import type { ChatCompletionCreateParamsNonStreaming } from 'groq-sdk/resources/chat/completions';
import { CompatibleBatchClient, type BatchApiDialect, type BatchClientOptions, type RawListPage } from './compatible-client.js';
import { checkBaseUrl, checkCompletionWindow, type GroqBatchConfig } from './config.js';
import { GROQ_SDK_ERRORS } from './sdk-errors.js';

export * from './compatible-client.js';

/** The options of every batch client, under the name they had when Groq was the only provider. */
export type GroqBatchClientOptions = BatchClientOptions;

/** Groq's list answers name the next page in `paging.next_cursor`, which the SDK's types leave out. */
function groqListPage(answer: unknown): RawListPage {
  const raw = answer as { data?: unknown[]; paging?: { next_cursor?: unknown } };
  const next = raw.paging?.next_cursor;
  return { data: raw.data ?? [], nextCursor: typeof next === 'string' && next !== '' ? next : null };
}

/**
 * Groq's Batch API on groq-sdk. The base URL is the host root: the SDK adds `/openai/v1`, and uploads go
 * to `/openai/v1/files`. `batches.list` has no paging parameters in the SDK's type, so the cursor is
 * sent as Groq documents it (`?cursor=`); files are listed in one page.
 */
function groqDialect(config: GroqBatchConfig): BatchApiDialect {
  const baseURL = checkBaseUrl(config.baseURL);
  // Our own timer ends each attempt; the SDK's, a little later, is only a backstop.
  const groq = new Groq({ apiKey: config.apiKey, baseURL, timeout: config.timeoutMs + 1_000, maxRetries: 0 });
  return {
    filesUrl: `${baseURL}/openai/v1/files`,
    sdkErrors: GROQ_SDK_ERRORS,
    checkCompletionWindow,
    createBatch: (params, signal) => groq.batches.create(params, { signal }),
    retrieveBatch: (batchId, signal) => groq.batches.retrieve(batchId, { signal }),
    cancelBatch: (batchId, signal) => groq.batches.cancel(batchId, { signal }),
    listBatches: async (cursor, signal) => groqListPage(await groq.batches.list(cursor ? { query: { cursor }, signal } : { signal })),
    listFiles: async (_cursor, signal) => ({ data: ((await groq.files.list({ signal })) as unknown as { data?: unknown[] }).data ?? [], nextCursor: null }),
    deleteFile: (fileId, signal) => groq.files.delete(fileId, { signal }),
    fileContent: (fileId, signal) => groq.files.content(fileId, { signal }),
    // The body is a batch line's, built by the line builder for Groq: the SDK's parameter type is that shape.
    chatCompletion: (body, signal) => groq.chat.completions.create(body as unknown as ChatCompletionCreateParamsNonStreaming, { signal }),
  };
}

/**
 * The Groq Files + Batches client Cascade uses, on groq-sdk, with every guarantee of
 * `CompatibleBatchClient`: our own retries (the SDK's are off), a timer per attempt, streamed uploads,
 * one batch per key, streamed downloads with an idle watchdog, no key in errors.
 */
export class GroqBatchClient extends CompatibleBatchClient {
  constructor(config: GroqBatchConfig, options: GroqBatchClientOptions = {}) {
    super(config, { apiKeyVariable: 'GROQ_API_KEY', connect: () => groqDialect(config) }, options);
  }
}
