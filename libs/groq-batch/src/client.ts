import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import Groq, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'groq-sdk';
import { checkBaseUrl, type GroqBatchConfig } from './config.js';
import { GroqBatchError } from './errors.js';

export interface ProviderBatch {
  id: string;
  status: string;
  input_file_id: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  request_counts?: { total?: number; completed?: number; failed?: number } | null;
  metadata?: Record<string, string> | null;
  errors?: unknown;
  created_at: number;
}

/** Key under which our deterministic batch key travels in the provider batch's metadata. */
export const BATCH_KEY_METADATA = 'cascade_batch_key';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with full jitter, or the server's own retry-after when it gives one. */
export function retryDelayMs(attempt: number, headers?: Headers | null): number {
  const afterMs = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(afterMs) && afterMs > 0) return Math.min(afterMs, 60_000);
  const after = headers?.get('retry-after');
  if (after) {
    const seconds = Number(after);
    if (Number.isFinite(seconds)) return Math.min(seconds * 1000, 60_000);
    const date = Date.parse(after);
    if (Number.isFinite(date)) return Math.max(0, Math.min(date - Date.now(), 60_000));
  }
  return Math.random() * Math.min(30_000, 500 * 2 ** attempt);
}

function uncertain(error: unknown): boolean {
  return (
    error instanceof APIConnectionError ||
    error instanceof APIConnectionTimeoutError ||
    (error instanceof APIError && (error.status === undefined || error.status >= 500 || error.status === 408))
  );
}

/**
 * The Groq Files + Batches client Cascade uses, on groq-sdk. Idempotent calls are retried by the SDK
 * (429, 5xx, timeouts; retry-after honoured); batch creation is not idempotent at the provider, so it
 * is never retried blindly: on any doubt the batch is looked up by our key first.
 */
export class GroqBatchClient {
  private readonly groq: Groq;
  private readonly groqOnce: Groq;
  private readonly baseURL: string;

  constructor(private readonly config: GroqBatchConfig) {
    if (!config.apiKey) throw new Error('GROQ_API_KEY is not set');
    this.baseURL = checkBaseUrl(config.baseURL);
    const common = { apiKey: config.apiKey, baseURL: this.baseURL, timeout: config.timeoutMs };
    this.groq = new Groq({ ...common, maxRetries: config.maxRetries });
    this.groqOnce = new Groq({ ...common, maxRetries: 0 });
  }

  private wrap(operation: string, subject: string | null, error: unknown): GroqBatchError {
    return error instanceof GroqBatchError ? error : new GroqBatchError(operation, subject, error, [this.config.apiKey]);
  }

  /**
   * Uploads a JSONL file as a streamed multipart body (groq-sdk would read the whole file into
   * memory first), retrying 429 / 5xx / connection errors with backoff.
   */
  async uploadFile(path: string): Promise<string> {
    const size = statSync(path).size;
    if (size > this.config.maxBytesPerFile) {
      throw new GroqBatchError('upload file', basename(path), new Error(`${size} bytes is above the ${this.config.maxBytesPerFile}-byte limit`));
    }
    for (let attempt = 0; ; attempt++) {
      const boundary = `----cascade${randomBytes(12).toString('hex')}`;
      const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${basename(path)}"\r\n` +
          'Content-Type: application/jsonl\r\n\r\n',
      );
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      async function* body() {
        yield head;
        for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
        yield tail;
      }
      let response: Response;
      try {
        response = await fetch(`${this.baseURL}/openai/v1/files`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${this.config.apiKey}`,
            'Content-Type': `multipart/form-data; boundary=${boundary}`,
            'Content-Length': String(head.length + size + tail.length),
          },
          body: Readable.toWeb(Readable.from(body())) as ReadableStream,
          duplex: 'half',
          signal: AbortSignal.timeout(Math.max(this.config.timeoutMs, 300_000)),
        } as RequestInit);
      } catch (error) {
        if (attempt < this.config.maxRetries) {
          await sleep(retryDelayMs(attempt));
          continue;
        }
        throw this.wrap('upload file', basename(path), error);
      }
      if (response.ok) return ((await response.json()) as { id: string }).id;
      const text = await response.text();
      if ((response.status === 429 || response.status >= 500) && attempt < this.config.maxRetries) {
        await sleep(retryDelayMs(attempt, response.headers));
        continue;
      }
      throw this.wrap('upload file', basename(path), new Error(`HTTP ${response.status}: ${text.slice(0, 500)}`));
    }
  }

  /** Creates the batch once; if the answer is lost, finds it by `batchKey` instead of creating a second. */
  async createBatch(request: { inputFileId: string; batchKey: string; metadata: Record<string, string> }): Promise<ProviderBatch> {
    const metadata = { ...request.metadata, [BATCH_KEY_METADATA]: request.batchKey };
    try {
      return (await this.groqOnce.batches.create({
        input_file_id: request.inputFileId,
        endpoint: '/v1/chat/completions',
        completion_window: this.config.completionWindow,
        metadata,
      })) as ProviderBatch;
    } catch (error) {
      if (uncertain(error)) {
        const existing = await this.findBatchByKey(request.batchKey);
        if (existing) return existing;
      }
      throw this.wrap('create batch', request.batchKey, error);
    }
  }

  async findBatchByKey(batchKey: string): Promise<ProviderBatch | null> {
    try {
      const list = await this.groq.batches.list();
      const matches = (list.data as ProviderBatch[]).filter((batch) => batch.metadata?.[BATCH_KEY_METADATA] === batchKey);
      matches.sort((a, b) => b.created_at - a.created_at);
      return matches[0] ?? null;
    } catch (error) {
      throw this.wrap('list batches', batchKey, error);
    }
  }

  async retrieveBatch(providerBatchId: string): Promise<ProviderBatch> {
    try {
      return (await this.groq.batches.retrieve(providerBatchId)) as ProviderBatch;
    } catch (error) {
      throw this.wrap('retrieve batch', providerBatchId, error);
    }
  }

  async cancelBatch(providerBatchId: string): Promise<ProviderBatch> {
    try {
      return (await this.groq.batches.cancel(providerBatchId)) as ProviderBatch;
    } catch (error) {
      throw this.wrap('cancel batch', providerBatchId, error);
    }
  }

  /** The lines of an output or error file, streamed: a 100 MB file is never held whole. */
  async *fileLines(fileId: string): AsyncGenerator<string> {
    let response: Response;
    try {
      response = (await this.groq.files.content(fileId)) as unknown as Response;
    } catch (error) {
      throw this.wrap('download file', fileId, error);
    }
    if (!response.body) return;
    const decoder = new TextDecoder();
    let rest = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        rest += decoder.decode(chunk, { stream: true });
        let newline = rest.indexOf('\n');
        while (newline >= 0) {
          yield rest.slice(0, newline);
          rest = rest.slice(newline + 1);
          newline = rest.indexOf('\n');
        }
      }
    } catch (error) {
      throw this.wrap('download file', fileId, error);
    }
    rest += decoder.decode();
    if (rest.length > 0) yield rest;
  }
}
