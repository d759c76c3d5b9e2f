import OpenAI from 'openai';
import { CompatibleBatchClient, type BatchApiDialect, type BatchClientOptions, type RawListPage } from './compatible-client.js';
import { checkOpenAiBaseUrl, checkOpenAiCompletionWindow, checkOpenAiListPageSize, type OpenAiBatchConfig } from './openai-config.js';
import { OPENAI_SDK_ERRORS } from './sdk-errors.js';

/**
 * OpenAI's list answers say `has_more`; the next page starts `after` the last id of this one. The raw
 * items are read, not the SDK's types: an item we cannot read still moves the cursor on.
 */
function openAiListPage(page: { data: unknown[]; has_more?: unknown }): RawListPage {
  const lastId = (page.data.at(-1) as { id?: unknown } | undefined)?.id;
  return { data: page.data, nextCursor: page.has_more === true && typeof lastId === 'string' && lastId !== '' ? lastId : null };
}

/**
 * OpenAI's Batch API on the openai SDK. The base URL includes `/v1` (the SDK's convention), uploads go to
 * `{baseURL}/files`, lists page with `limit` and `after`, and the only completion window is `24h`.
 */
function openAiDialect(config: OpenAiBatchConfig): BatchApiDialect {
  const baseURL = checkOpenAiBaseUrl(config.baseURL);
  const limit = checkOpenAiListPageSize(config.listPageSize);
  // Our own timer ends each attempt; the SDK's, a little later, is only a backstop. Organization and
  // project come from the config only (null stops the SDK reading OPENAI_ORG_ID / OPENAI_PROJECT_ID):
  // this library reads no environment variable.
  const openai = new OpenAI({
    apiKey: config.apiKey,
    baseURL,
    timeout: config.timeoutMs + 1_000,
    maxRetries: 0,
    organization: config.organization ?? null,
    project: config.project ?? null,
  });
  return {
    filesUrl: `${baseURL}/files`,
    sdkErrors: OPENAI_SDK_ERRORS,
    checkCompletionWindow: checkOpenAiCompletionWindow,
    // The window was checked to be '24h', the one value the SDK's type allows.
    createBatch: (params, signal) => openai.batches.create({ ...params, completion_window: params.completion_window as '24h' }, { signal }),
    retrieveBatch: (batchId, signal) => openai.batches.retrieve(batchId, { signal }),
    cancelBatch: (batchId, signal) => openai.batches.cancel(batchId, { signal }),
    listBatches: async (cursor, signal) => openAiListPage(await openai.batches.list(cursor ? { limit, after: cursor } : { limit }, { signal })),
    listFiles: async (cursor, signal) => openAiListPage(await openai.files.list(cursor ? { after: cursor } : {}, { signal })),
    deleteFile: (fileId, signal) => openai.files.delete(fileId, { signal }),
    fileContent: (fileId, signal) => openai.files.content(fileId, { signal }),
    // The body is a batch line's, built by the line builder for OpenAI: the SDK's parameter type is that shape.
    chatCompletion: (body, signal) => openai.chat.completions.create(body as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, { signal }),
  };
}

/**
 * The OpenAI Files + Batches client, on the openai SDK, with every guarantee of `CompatibleBatchClient`:
 * our own retries (the SDK's are off: it would repeat `POST /batches`, and OpenAI has no idempotency
 * key), a timer per attempt, streamed uploads, one batch per key (found again through the
 * `cascade_batch_key` metadata), streamed downloads with an idle watchdog, no key in errors.
 */
export class OpenAiBatchClient extends CompatibleBatchClient {
  constructor(config: OpenAiBatchConfig, options: BatchClientOptions = {}) {
    super(config, { apiKeyVariable: 'OPENAI_API_KEY', connect: () => openAiDialect(config) }, options);
  }
}
