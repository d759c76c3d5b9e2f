import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  type AnthropicBatch,
  AnthropicBatchClient,
  type AnthropicBatchRequest,
  anthropicCustomId,
  type ChatCompletionsBody,
  CreateInDoubtError,
  DEFAULT_ANTHROPIC_BATCH_CONFIG,
  toAnthropicParams,
} from '#anthropic-batch';
import { GroqBatchError, type PromptRegistry } from '#groq-batch';
import type { LineBuilder } from './batch-assembler.js';
import { prAnalysisLineBuilder } from './groq-provider.js';
import type { SubmissionEnv } from './pipeline-settings.js';
import type { BatchInputLine, BatchProviderPort, KeyedProviderBatch, ProviderBatchRef, UploadedInputFile } from './provider-port.js';
import type { ProviderRecords } from './providers/provider-records.js';

export function anthropicClientFrom(env: Pick<SubmissionEnv, 'ANTHROPIC_API_KEY' | 'ANTHROPIC_BASE_URL' | 'ANTHROPIC_TIMEOUT_MS' | 'ANTHROPIC_LIST_SETTLE_MS'>): AnthropicBatchClient {
  return new AnthropicBatchClient({
    ...DEFAULT_ANTHROPIC_BATCH_CONFIG,
    // Checked before any client is made (`configuredProviders`); an empty key is refused by the client itself.
    apiKey: env.ANTHROPIC_API_KEY ?? '',
    baseURL: env.ANTHROPIC_BASE_URL,
    timeoutMs: env.ANTHROPIC_TIMEOUT_MS,
    listSettleMs: env.ANTHROPIC_LIST_SETTLE_MS,
  });
}

/**
 * Anthropic's batch statuses read in the Batch API's words the pipeline uses: an ended batch is `cancelled`
 * when a cancel was asked for, `expired` when every request expired, else `completed` (each request's own
 * result says what became of it).
 */
export function anthropicStatusOf(batch: AnthropicBatch): string {
  if (batch.processing_status === 'in_progress') return 'in_progress';
  if (batch.processing_status === 'canceling') return 'cancelling';
  if (batch.cancel_initiated_at) return 'cancelled';
  const c = batch.request_counts;
  return c.expired > 0 && c.succeeded + c.errored + c.canceled === 0 ? 'expired' : 'completed';
}

/** Spooled request bodies are named so: the input "file" of an Anthropic batch exists only on the submitter's disk. */
const SPOOL_PREFIX = 'spool:';

/** What an Anthropic batch records as its input file: its requests went with the create, and no file exists. */
export const INLINE_INPUT = 'inline';

const refOf = (batch: AnthropicBatch): ProviderBatchRef => ({
  providerBatchId: batch.id,
  inputFileId: INLINE_INPUT,
  status: anthropicStatusOf(batch),
  createdAt: Math.floor(Date.parse(batch.created_at) / 1000),
});

/**
 * A Messages request per stored request: the chat body every provider is built from, turned into Anthropic's
 * params (its JSON-schema subset), under a custom_id that carries the batch key's tag (Anthropic allows 64
 * characters of `[A-Za-z0-9_-]`, our request ids up to 200 of anything; see `anthropicCustomId`).
 */
export function anthropicLineBuilder(prompts: PromptRegistry): LineBuilder {
  const chat = prAnalysisLineBuilder(prompts, []);
  return (item, batch) => ({
    customId: anthropicCustomId(batch.batch_key, item.metadata.requestId),
    body: toAnthropicParams(chat(item, batch).body as unknown as ChatCompletionsBody) as unknown as Record<string, unknown>,
  });
}

/**
 * Submission through Anthropic's Message Batches. There is no file: `upload` spools the requests to the
 * submitter's disk and `create` sends them inline, streamed. A spool lost with its process (a restart) is
 * answered like a file the provider no longer has (404): the assembler builds it again.
 *
 * Batches carry no metadata, so a batch is found by the key's tag in its custom_ids, which only an ended
 * batch lets us read (see `AnthropicBatchClient.findBatchesByKey`). A running batch of the right size,
 * created since the intent and unknown to the database, may be ours: nothing is created while one runs
 * (`CreateInDoubtError`, retried later), so a lost answer is never paid twice.
 */
export class AnthropicSubmissionProvider implements BatchProviderPort {
  private readonly spools = new Map<string, { dir: string; path: string; lines: number }>();

  constructor(
    private readonly client: AnthropicBatchClient,
    private readonly records: ProviderRecords,
  ) {}

  async findByKey(batchKey: string, hint?: { sinceSeconds: number; lines: number }): Promise<ProviderBatchRef[]> {
    if (!hint) return [];
    const found = await this.client.findBatchesByKey(batchKey, { sinceSeconds: hint.sinceSeconds, lineCount: hint.lines, isKnown: (ids) => this.records.known(ids) });
    if (found.matches.length === 0 && found.undecided.length > 0) throw new CreateInDoubtError(batchKey, found.undecided.map((batch) => batch.id));
    return found.matches.map((batch) => refOf(batch)).sort((a, b) => b.createdAt - a.createdAt);
  }

  async upload(request: { batchKey: string; lines: Iterable<BatchInputLine> | AsyncIterable<BatchInputLine> }): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'cascade-anthropic-'));
    const path = join(dir, 'requests.jsonl');
    const out = createWriteStream(path);
    let lines = 0;
    try {
      for await (const line of request.lines) {
        if (!out.write(`${JSON.stringify({ custom_id: line.customId, params: line.body })}\n`)) await once(out, 'drain');
        lines++;
      }
      out.end();
      await once(out, 'finish');
    } catch (error) {
      out.destroy();
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    const id = `${SPOOL_PREFIX}${request.batchKey}:${randomUUID()}`;
    this.spools.set(id, { dir, path, lines });
    return id;
  }

  async create(request: { batchKey: string; inputFileId: string; metadata: Record<string, string>; mayCreate?: () => Promise<boolean> }): Promise<ProviderBatchRef> {
    const spool = this.spools.get(request.inputFileId);
    if (!spool) {
      // As a file the provider no longer has: the assembler spools the requests again (`missingFile`), never holds the batch.
      throw new GroqBatchError('create batch', { batchKey: request.batchKey }, new Error('the spooled requests are gone (another process spooled them)'), {
        retryable: false,
        status: 404,
      });
    }
    const batch = await this.client.createBatch({
      batchKey: request.batchKey,
      requests: readSpool(spool.path),
      isKnown: (ids) => this.records.known(ids),
      mayCreate: request.mayCreate,
    });
    await this.deleteFile(request.inputFileId);
    return refOf(batch);
  }

  async cancel(providerBatchId: string): Promise<string> {
    return anthropicStatusOf(await this.client.cancelBatch(providerBatchId));
  }

  async retrieve(providerBatchId: string): Promise<ProviderBatchRef> {
    return refOf(await this.client.retrieveBatch(providerBatchId));
  }

  /** Drops a spool; a provider-side file never exists. */
  async deleteFile(fileId: string): Promise<void> {
    const spool = this.spools.get(fileId);
    if (!spool) return;
    this.spools.delete(fileId);
    await rm(spool.dir, { recursive: true, force: true });
  }

  /**
   * Our batches back to `sinceSeconds` that the database does not record (the sweep's concern): only ended ones
   * can be told ours (by the key tag of their first result, mapped back to the key by the database); a running
   * batch is attributed once it ends.
   */
  async *listKeyed(options: { sinceSeconds?: number } = {}): AsyncIterable<KeyedProviderBatch> {
    for await (const batch of this.client.endedBatchesWithTags(options.sinceSeconds, (ids) => this.records.known(ids))) {
      const batchKey = batch.tag ? await this.records.keyOfTag(batch.tag) : null;
      if (batchKey) yield { ...refOf(batch.batch), batchKey };
    }
  }

  async listInputFiles(): Promise<UploadedInputFile[]> {
    return [];
  }
}

async function* readSpool(path: string): AsyncGenerator<AnthropicBatchRequest> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) if (line !== '') yield JSON.parse(line) as AnthropicBatchRequest;
}

